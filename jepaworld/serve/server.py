"""What the routes share (``Server``): the loaded model, the default planner and its budget, the planning
thread, the sessions and the metrics; and the server's limits (``ServeSettings``)."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from dataclasses import asdict, astuple, dataclass, replace
from typing import Any

import numpy as np

from jepaworld.config import PlanConfig, validate
from jepaworld.errors import JepaworldError
from jepaworld.plan.registry import get_planner
from jepaworld.serve.batching import BatchWorker, Job, QueueFull, Step
from jepaworld.serve.errors import ApiError
from jepaworld.serve.images import decode_images
from jepaworld.serve.metrics import Metrics
from jepaworld.serve.schemas import PlannerSettings
from jepaworld.serve.security import BearerAuth
from jepaworld.serve.sessions import Session, SessionStore

PUBLISHED_WORK = 300 * 30 * 5  # samples x iterations x horizon of the published planner


@dataclass
class ServeSettings:
    """Limits and batching of one server (``jepaworld serve --help`` documents each)."""

    token: str | None = None  # bearer token; None: no auth (loopback only, see security.check_bind)
    window_ms: float = 5.0  # how long the planning thread waits for more requests to batch
    max_batch: int = 64  # environments in one planner call
    queue_size: int = 256  # requests waiting to be planned; more get 503 + Retry-After
    timeout_s: float = 30.0  # per request, queueing and planning
    session_ttl_s: float = 300.0  # idle sessions expire
    max_sessions: int = 1024
    max_sessions_per_client: int | None = None  # per client address (None: max_sessions // 8, at least 1)
    max_body_bytes: int | None = None  # None: the largest real request (body_limit), ~2 MB at 64 px
    max_frames: int = 64  # frames in one /v1/plan request
    max_plan_work: int | None = None  # planner budget per environment (None: published planner's, or the default's)
    request_timeout_s: float = 10.0  # a request's headers and body must arrive within it; idle connections close
    max_connections: int = 512  # open connections; over it the longest idle one is closed
    max_inflight: int | None = None  # requests in progress at once (None: 2 x queue_size + 64); health exempt
    shutdown_timeout_s: float = 5.0  # after SIGTERM: queued requests get 503 at once, a plan in flight this long


def body_limit(resolution: int, max_frames: int) -> int:
    """The largest real request: ``max_frames`` raw frames and as many goals at ``resolution``, in base64,
    plus 64 KiB for the rest of the JSON (~2.1 MB at 64 px, 26 MB at 224 px)."""
    frame_b64 = 4 * -(-resolution * resolution * 3 // 3)
    return 2 * max_frames * frame_b64 + 65536


def plan_work(cfg: PlanConfig) -> int:
    """Candidate rollouts of one plan per environment: samples x iterations x horizon (gd: restarts x steps)."""
    if cfg.planner == "gd":
        return cfg.gd_restarts * (cfg.gd_steps + 1) * cfg.horizon
    return cfg.samples * cfg.iterations * cfg.horizon


class ShuttingDown(Exception):
    """A queued job dropped because the server is shutting down."""


class Server:
    """What the routes share: the model, the default planner, the planning thread and the sessions."""

    def __init__(self, wm: Any, settings: ServeSettings, plan_cfg: PlanConfig | None) -> None:
        self.wm = wm
        self.meta = wm.meta
        settings = replace(
            settings,
            max_body_bytes=settings.max_body_bytes or body_limit(self.meta.resolution, settings.max_frames),
            max_sessions_per_client=settings.max_sessions_per_client or max(1, settings.max_sessions // 8),
            max_inflight=settings.max_inflight or 2 * settings.queue_size + 64,
        )  # fmt: skip
        self.settings = settings
        self.action_low, self.action_high = self.meta.action_bounds()
        self.default_cfg = plan_cfg or wm.config.plan
        validate(self.default_cfg)
        self.max_work = settings.max_plan_work or max(PUBLISHED_WORK, plan_work(self.default_cfg))
        self.default_key = astuple(self.default_cfg)
        self.metrics = Metrics()
        self.worker = BatchWorker(self.metrics, settings.window_ms / 1000, settings.max_batch, settings.queue_size)
        self.sessions = SessionStore(settings.session_ttl_s, settings.max_sessions, on_drop=self._dropped)
        self.per_client: dict[str, int] = {}  # open sessions by client address
        self.draining = False  # set once shutdown starts: queued and new requests get 503
        self.auth = BearerAuth(settings.token)
        m = self.metrics
        m.gauge("jepaworld_queue_depth", "requests waiting for the planning thread", self.worker.depth)
        m.gauge("jepaworld_sessions", "open sessions", lambda: len(self.sessions))
        expired = lambda: self.sessions.expired  # noqa: E731
        m.gauge("jepaworld_sessions_expired_total", "sessions dropped after the idle TTL", expired, "counter")
        m.gauge("jepaworld_worker_up", "1 while the planning thread runs", lambda: float(self.worker.alive))

    # -------------------------------------------------------------------------------- helpers
    def _dropped(self, session: Session) -> None:
        self.release(session.client)

    def release(self, client: str) -> None:
        """One session fewer for ``client`` (dropped, or never made)."""
        n = self.per_client.get(client, 0) - 1
        if n > 0:
            self.per_client[client] = n
        else:
            self.per_client.pop(client, None)

    def drain(self) -> None:
        """Shutdown started: refuse new requests and answer every queued one 503 now (a plan in flight ends)."""
        self.draining = True
        for job in self.worker.drop_queued():
            job.future.set_exception(ShuttingDown())

    def plan_config(self, settings: PlannerSettings | None) -> PlanConfig:
        """The server's planner with a request's whitelisted changes, range-checked and within budget."""
        changes = settings.changes() if settings is not None else {}
        if not changes:
            return self.default_cfg
        cfg = replace(self.default_cfg, **changes)
        try:
            validate(cfg)
            get_planner(cfg.planner)
        except JepaworldError as e:
            raise ApiError(422, f"planner: {e}") from None
        work = plan_work(cfg)
        if work > self.max_work:
            what = "gd_restarts x (gd_steps + 1) x horizon" if cfg.planner == "gd" else "samples x iterations x horizon"
            raise ApiError(422, f"planner: {what} = {work} is over this server's budget of {self.max_work} per "
                                "environment; lower samples, iterations or horizon")  # fmt: skip
        return cfg

    def frames(self, images: Any, what: str, max_frames: int) -> np.ndarray:
        return decode_images(images, self.meta.resolution, what, max_frames)

    async def run(self, job: Job, session: Session | None = None) -> Step:
        """Queue a job for the planning thread and wait for it, at most ``timeout_s``."""
        try:
            fut: Future = self.worker.submit(job)
        except QueueFull:
            self.metrics.reject("queue_full")
            raise ApiError(503, f"the planning queue is full ({self.settings.queue_size} requests waiting); retry "
                                "shortly", headers={"Retry-After": "1"}) from None  # fmt: skip
        timeout = self.settings.timeout_s
        try:
            return await asyncio.wait_for(asyncio.shield(asyncio.wrap_future(fut)), timeout)
        except TimeoutError:  # asyncio.TimeoutError is TimeoutError from Python 3.11
            if fut.cancel() or fut.cancelled():
                self.metrics.reject("timeout_queued")
                raise ApiError(504, f"not planned within {timeout:g} s (the server is busy); nothing was done: retry",
                               headers={"Retry-After": "1"}) from None  # fmt: skip
            if fut.done() and fut.exception() is None:
                return fut.result()
            self.metrics.reject("timeout_planning")
            if session is not None:
                session.broken = f"a request timed out after {timeout:g} s while planning and the session moved on"
            raise ApiError(504, f"planning took longer than {timeout:g} s; ask for less planning (planner "
                                "settings) or raise the server's --timeout") from None  # fmt: skip
        except asyncio.CancelledError:  # the client went away: drop the job if it has not started
            fut.cancel()
            raise
        except ShuttingDown:
            raise ApiError(503, "the server is shutting down; nothing was done: retry after it restarts",
                           headers={"Retry-After": "5", "Connection": "close"}) from None  # fmt: skip
        except JepaworldError as e:
            raise ApiError(422, str(e)) from None
        except Exception as e:
            if session is not None:
                session.broken = "an internal error interrupted planning"
            if job.key != self.default_key:  # the request's own planner settings failed: the request's to change
                self.metrics.reject("planner_settings")
                raise ApiError(422, f"planner: these settings failed while planning ({type(e).__name__}: {e}); "
                                    "use values nearer the server's defaults (GET /v1/model)") from None  # fmt: skip
            raise

    def model_info(self) -> dict[str, Any]:
        meta, s = self.meta, self.settings
        return {
            "env": meta.env, "resolution": meta.resolution, "frame": [meta.resolution, meta.resolution, 3],
            "dtype": "uint8", "action_dim": meta.action_dim,
            "action_low": np.asarray(self.action_low, dtype=float).tolist(),
            "action_high": np.asarray(self.action_high, dtype=float).tolist(),
            "frameskip": meta.frameskip, "history": meta.history, "step": getattr(meta, "step", None),
            "planner": self.default_cfg.describe(), "planner_settings": asdict(self.default_cfg),
            "planner_fields": sorted(PlannerSettings.model_fields),
            "limits": {"max_plan_work": self.max_work, "max_frames": s.max_frames, "max_body_bytes": s.max_body_bytes,
                       "timeout_s": s.timeout_s, "session_ttl_s": s.session_ttl_s, "max_sessions": s.max_sessions,
                       "max_sessions_per_client": s.max_sessions_per_client,
                       "request_timeout_s": s.request_timeout_s, "max_inflight": s.max_inflight},
            "batching": {"window_ms": s.window_ms, "max_batch": s.max_batch, "queue_size": s.queue_size},
        }  # fmt: skip
