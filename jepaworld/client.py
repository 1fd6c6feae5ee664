"""A small Python client for ``jepaworld serve`` (needs ``httpx``: the ``serve`` extra).

    from jepaworld.client import Client
    with Client("http://127.0.0.1:8000", token=None) as c:      # token: default $JEPAWORLD_TOKEN
        c.model()                                               # env, resolution, action bounds, planner
        actions = c.plan(obs, goal)                             # open loop: (horizon * frameskip, A)
        with c.session(goal, seed=0) as s:                      # closed loop, re-planned on the server
            for _ in range(10):
                for action in s.act(obs):                       # the next block: (frameskip, A)
                    obs, *_ = env.step(action)

Frames are uint8 (H, W, 3) at the model's resolution; they travel as raw base64 bytes (or PNG
with ``png=True``). A refused request raises ``ServerError`` with the server's message.
"""

from __future__ import annotations

import base64
import os
from typing import Any

import numpy as np

from jepaworld.errors import JepaworldError
from jepaworld.images import png_bytes


class ServerError(JepaworldError):
    """The server refused a request: ``status`` (HTTP) and the server's message (what to change)."""

    def __init__(self, status: int, message: str, retry_after: float | None = None) -> None:
        super().__init__(f"{status}: {message}")
        self.status, self.message, self.retry_after = status, message, retry_after


def encode_image(frames: np.ndarray, png: bool = False) -> dict[str, Any]:
    """uint8 (H, W, 3) or (N, H, W, 3) -> the API's image object (raw bytes, or PNG for one frame)."""
    frames = np.asarray(frames)
    if frames.dtype != np.uint8:
        raise JepaworldError(f"frames must be uint8 (0-255), got {frames.dtype}; convert with .astype(np.uint8)")
    if png:
        if frames.ndim != 3:
            raise JepaworldError("png=True sends one frame (H, W, 3); send a batch raw")
        return {"png": base64.b64encode(png_bytes(frames)).decode()}
    data = np.ascontiguousarray(frames)
    return {"data": base64.b64encode(data.tobytes()).decode(), "shape": list(data.shape)}


class Client:
    """The HTTP API of one server. ``http``: an ``httpx.Client`` to use instead (e.g. a test client)."""

    def __init__(self, url: str = "http://127.0.0.1:8000", token: str | None = None, timeout: float = 60.0,
                 png: bool = False, http: Any = None) -> None:  # fmt: skip
        token = token if token is not None else os.environ.get("JEPAWORLD_TOKEN") or None
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        if http is None:
            import httpx

            http = httpx.Client(base_url=url, timeout=timeout)
        self.http, self.headers, self.png = http, headers, png

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """One call -> the decoded JSON answer (None for 204); ``ServerError`` for any refusal."""
        r = self.http.request(method, path, json=body, headers=self.headers)
        if r.status_code >= 400:
            try:
                message = r.json().get("error", r.text)
            except ValueError:
                message = r.text
            retry = r.headers.get("Retry-After")
            raise ServerError(r.status_code, message, float(retry) if retry else None)
        if r.status_code == 204 or not r.content:
            return None
        if r.headers.get("content-type", "").startswith("text/"):
            return r.text
        return r.json()

    # --------------------------------------------------------------------------------- routes
    def health(self) -> dict[str, Any]:
        return self.request("GET", "/v1/health")

    def model(self) -> dict[str, Any]:
        """env, resolution, action_dim, action_low/high, frameskip, the default planner, limits."""
        return self.request("GET", "/v1/model")

    def metrics(self) -> str:
        return self.request("GET", "/metrics")

    def plan(self, obs: np.ndarray, goal: np.ndarray, seed: int = 0, full: bool = False,
             **planner: Any) -> np.ndarray | dict[str, Any]:  # fmt: skip
        """Open-loop plan(s): raw actions (horizon * frameskip, A), or (N, ...) for a batch of frames.

        ``planner``: PlanConfig fields to change (samples=..., horizon=...); ``full``: the whole answer
        (actions as an array, cost, plan_time_s, batch_size).
        """
        obs = np.asarray(obs)
        body = {"obs": encode_image(obs, self.png and obs.ndim == 3),
                "goal": encode_image(goal, self.png and np.ndim(goal) == 3), "seed": seed}  # fmt: skip
        if planner:
            body["planner"] = planner
        answer = self.request("POST", "/v1/plan", body)
        actions = np.asarray(answer["actions"], dtype=np.float32)
        actions = actions[0] if obs.ndim == 3 else actions
        return {**answer, "actions": actions} if full else actions

    def session(self, goal: np.ndarray, seed: int = 0, **planner: Any) -> Session:
        """Start a closed-loop session toward ``goal`` (uint8 (H, W, 3))."""
        body: dict[str, Any] = {"goal": encode_image(goal, self.png), "seed": seed}
        if planner:
            body["planner"] = planner
        return Session(self, self.request("POST", "/v1/sessions", body))


class Session:
    """A closed loop on the server: ``act(obs)`` -> the next block of raw actions (frameskip, A)."""

    def __init__(self, client: Client, info: dict[str, Any]) -> None:
        self.client, self.info, self.id = client, info, info["id"]
        self.last: dict[str, Any] | None = None  # the last answer: replanned, cost, plan_time_s, batch_size...

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The frame seen after the last block -> the next block (frameskip, A)."""
        self.last = self.client.request("POST", f"/v1/sessions/{self.id}/act",
                                        {"obs": encode_image(obs, self.client.png)})  # fmt: skip
        return np.asarray(self.last["actions"], dtype=np.float32)

    def close(self) -> None:
        """Delete the session on the server (already gone: nothing to do)."""
        try:
            self.client.request("DELETE", f"/v1/sessions/{self.id}")
        except ServerError as e:
            if e.status != 404:
                raise


class RemoteController:
    """``LatentMPC``'s closed-loop interface over server sessions: ``reset(goal_obs)``, ``act(obs)``, ``frameskip``.

    A controller (``jepaworld.control.Controller``) for ``jepaworld.control.run_episodes``. Row i of a batch is its own
    session seeded ``seed + i``, so one row drives exactly like ``wm.mpc(plan, seed + i)`` locally.
    """

    def __init__(self, client: Client, seed: int = 0, **planner: Any) -> None:
        self.client, self.seed, self.planner = client, seed, planner
        self.frameskip = int(client.model()["frameskip"])
        self.sessions: list[Session] = []
        self.single = True

    def reset(self, goal_obs: np.ndarray) -> None:
        self.close()
        goal_obs = np.asarray(goal_obs)
        self.single = goal_obs.ndim == 3
        goals = goal_obs[None] if self.single else goal_obs
        self.sessions = [self.client.session(g, seed=self.seed + i, **self.planner) for i, g in enumerate(goals)]

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """Every session acts (``active``, the controller protocol's, is not used)."""
        obs = np.asarray(obs)
        rows = obs[None] if self.single else obs
        if len(rows) != len(self.sessions):
            raise JepaworldError(f"obs has {len(rows)} frames for {len(self.sessions)} sessions; reset(goal_obs) first")
        blocks = np.stack([s.act(o) for s, o in zip(self.sessions, rows, strict=True)])
        return blocks[0] if self.single else blocks

    def close(self) -> None:
        for s in self.sessions:
            s.close()
        self.sessions = []
