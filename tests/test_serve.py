"""`jepaworld serve`: auth, limits, malformed and fuzzed requests, sessions, determinism, batching.

Everything talks to 127.0.0.1 only: FastAPI's TestClient (no socket) or a uvicorn server bound to
an ephemeral loopback port in a thread.
"""

from __future__ import annotations

import base64
import io
import json
import re
import socket
import threading
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

with warnings.catch_warnings():  # starlette's TestClient on httpx: a deprecation notice
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from jepaworld.client import Client, RemoteController, ServerError, encode_image  # noqa: E402
from jepaworld.config import EvalConfig, PlanConfig  # noqa: E402
from jepaworld.control import draw_episodes  # noqa: E402
from jepaworld.control import run_episodes as run_mpc  # noqa: E402
from jepaworld.data import EpisodeFile  # noqa: E402
from jepaworld.envs import make  # noqa: E402
from jepaworld.errors import JepaworldError  # noqa: E402
from jepaworld.serve import check_bind, load_token  # noqa: E402
from tests.serve_helpers import AUTH, PLAN, TOKEN, make_app, raw, serving  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

@pytest.fixture(scope="module")
def episodes(serve_wm):
    f = EpisodeFile(serve_wm.meta.data_path)
    return draw_episodes(f, list(serve_wm.meta.held_out), EvalConfig(episodes=3, goal_offset=10, seed=0)).episodes


def png(a: np.ndarray, mode: str = "RGB") -> dict:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(a).convert(mode).save(buf, format="PNG")
    return {"png": base64.b64encode(buf.getvalue()).decode()}


def metric(text: str, name: str) -> float:
    m = re.search(rf"^{re.escape(name)} (\S+)$", text, flags=re.M)
    assert m, f"{name} not in /metrics"
    return float(m.group(1))


class Recording:
    """A local LatentMPC that remembers every block it hands out (a controller: reset, act, frameskip)."""

    def __init__(self, mpc):
        self.mpc, self.frameskip, self.blocks = mpc, mpc.frameskip, []

    def reset(self, goal):
        self.mpc.reset(goal)

    def act(self, obs, active=None):
        self.blocks.append(self.mpc.act(obs))
        return self.blocks[-1]


# --------------------------------------------------------------------------------------- auth
def test_token_is_required_and_non_loopback_needs_one(serve_wm, monkeypatch, tmp_path):
    with TestClient(make_app(serve_wm)) as c:
        assert c.get("/v1/health").status_code == 200  # liveness stays open
        for headers in ({}, {"Authorization": "Bearer wrong-token-0123456789"}, {"Authorization": TOKEN}):
            r = c.get("/v1/model", headers=headers)
            assert r.status_code == 401 and "Bearer" in r.json()["error"], r.text
            assert c.post("/v1/plan", json={}, headers=headers).status_code == 401
            assert c.get("/metrics", headers=headers).status_code == 401
        info = c.get("/v1/model", headers=AUTH).json()
        assert info["resolution"] == serve_wm.meta.resolution and info["frameskip"] == serve_wm.meta.frameskip
        assert info["action_low"] == [-1.0, -1.0] and info["planner"] == PLAN.describe()
        assert c.get("/docs").status_code == 200 and "/v1/sessions" in c.get("/openapi.json").json()["paths"]

    with pytest.raises(JepaworldError, match="without a token"):
        check_bind("0.0.0.0", None)
    check_bind("127.0.0.1", None), check_bind("::1", None), check_bind("0.0.0.0", TOKEN)
    monkeypatch.setenv("JEPAWORLD_TOKEN", TOKEN)
    assert load_token(None) == TOKEN
    (tmp_path / "tok").write_text("x" * 32 + "\n")
    assert load_token(str(tmp_path / "tok")) == "x" * 32
    (tmp_path / "short").write_text("abc")
    with pytest.raises(JepaworldError, match="16 characters"):
        load_token(str(tmp_path / "short"))

    from typer.testing import CliRunner

    from jepaworld.cli.main import app as cli

    monkeypatch.delenv("JEPAWORLD_TOKEN")
    result = CliRunner().invoke(cli, ["serve", str(serve_wm.checkpoint_path), "--host", "0.0.0.0"])
    assert result.exit_code == 2 and "without a token" in result.output


# ------------------------------------------------------------------------- malformed requests
def test_oversize_and_malformed_requests_get_4xx_that_say_what_to_fix(serve_wm, serve_frames):
    obs, goal = serve_frames
    res = serve_wm.meta.resolution
    with TestClient(make_app(serve_wm, max_body_bytes=32_000, max_frames=4)) as c:
        def post(path, body=None, headers=AUTH, **kw):
            r = c.post(path, json=body, headers=headers, **kw) if body is not None else c.post(path, headers=headers,
                                                                                             **kw)
            assert 400 <= r.status_code < 500, (r.status_code, r.text)
            assert isinstance(r.json()["error"], str) and r.json()["error"]
            return r.status_code, r.json()["error"]

        big = np.zeros((40, res, res, 3), np.uint8)
        assert post("/v1/plan", {"obs": raw(big), "goal": raw(goal)})[0] == 413  # by Content-Length
        chunks = (b" " * 4096 for _ in range(20))  # streamed, no Content-Length
        status, msg = post("/v1/plan", content=chunks, headers={**AUTH, "content-type": "application/json"})
        assert status == 413 and "smaller" in msg
        assert post("/v1/plan", content=b"{not json", headers={**AUTH, "content-type": "application/json"}) == (
            400, "the body is not valid JSON; send a JSON object (Content-Type: application/json)")

        cases = {
            "shape": ({"obs": raw(obs[:8]), "goal": raw(goal)}, f"[{res}, {res}, 3]"),
            "dtype": ({"obs": {**raw(obs), "dtype": "float32"}, "goal": raw(goal)}, "uint8"),
            "bytes": ({"obs": {**raw(obs), "shape": [2, res, res, 3]}, "goal": raw(goal)}, "needs"),
            "base64": ({"obs": {"data": "!!!", "shape": [res, res, 3]}, "goal": raw(goal)}, "base64"),
            "png size": ({"obs": png(np.zeros((res + 1, res, 3), np.uint8)), "goal": raw(goal)}, f"{res}x{res}"),
            "png mode": ({"obs": png(obs, "RGBA"), "goal": raw(goal)}, "RGB"),
            "not png": ({"obs": {"png": base64.b64encode(b"GIF89a....").decode()}, "goal": raw(goal)}, "PNG"),
            "both": ({"obs": {**raw(obs), "png": "aa=="}, "goal": raw(goal)}, "exactly one"),
            "missing": ({"obs": raw(obs)}, "goal: Field required"),
            "frames": ({"obs": [raw(obs)] * 5, "goal": raw(goal)}, "at most 4"),
            "goals": ({"obs": raw(np.stack([obs] * 3)), "goal": raw(np.stack([goal] * 2))}, "one per frame"),
            "field": ({"obs": raw(obs), "goal": raw(goal), "planner": {"preset": "published"}}, "planner.preset"),
            "path": ({"obs": raw(obs), "goal": raw(goal), "checkpoint": "/etc/passwd"}, "checkpoint: unknown field"),
            "range": ({"obs": raw(obs), "goal": raw(goal), "planner": {"samples": 1}}, "plan.samples"),
            "budget": ({"obs": raw(obs), "goal": raw(goal), "planner": {"samples": 4000, "iterations": 30}}, "budget"),
            "planner": ({"obs": raw(obs), "goal": raw(goal), "planner": {"planner": "x"}}, "planner.planner"),
            "seed": ({"obs": raw(obs), "goal": raw(goal), "seed": -1}, "seed"),
        }
        for name, (body, expect) in cases.items():
            status, msg = post("/v1/plan", body)
            assert expect in msg, (name, msg)
        status, msg = post("/v1/sessions/nope/act", {"obs": raw(obs)})
        assert status == 404 and "POST /v1/sessions" in msg
        assert post("/v1/sessions/../../etc/act", {"obs": raw(obs)})[0] == 404
        status, msg = post("/v1/sessions", {"goal": raw(np.stack([goal] * 2))})
        assert "at most 1" in msg
        r = c.get("/v1/nothing", headers=AUTH)
        assert r.status_code == 404 and "/docs" in r.json()["error"]
        assert c.post("/v1/plan", json={"obs": raw(obs), "goal": png(goal)}, headers=AUTH).status_code == 200


def test_fuzzed_bad_requests_leave_the_server_healthy(serve_wm, serve_frames):
    obs, goal = serve_frames
    rng = np.random.default_rng(0)
    valid = {"obs": raw(obs), "goal": raw(goal), "planner": {"samples": 8, "elites": 2}, "seed": 1}
    junk = [None, True, -1, 2**70, 1e308, "x" * 300, "", [], {}, [[1, 2]], {"a": {"b": [None]}}, "../../etc/passwd",
            "\u0000", float("nan")]  # fmt: skip

    def mutate(body, depth=0):
        body = json.loads(json.dumps(body))
        node = body
        while isinstance(node, dict) and node and rng.random() < 0.6:
            key = list(node)[int(rng.integers(len(node)))]
            if not isinstance(node[key], dict) or rng.random() < 0.3:
                node[key] = junk[int(rng.integers(len(junk)))]
                return body
            node = node[key]
        if isinstance(node, dict):
            node[f"extra{int(rng.integers(9))}"] = junk[int(rng.integers(len(junk)))]
        return body

    routes = ["/v1/plan", "/v1/sessions", "/v1/sessions/abc/act", "/v1/sessions/%00/act", "/metrics", "/v1/model"]
    sent = 0
    with TestClient(make_app(serve_wm, max_body_bytes=64_000), raise_server_exceptions=False) as c:
        for i in range(300):
            kind = i % 5
            path = routes[int(rng.integers(len(routes)))]
            if kind == 0:  # random bytes, random content type
                r = c.post(path, content=rng.bytes(int(rng.integers(0, 2000))), headers={
                    **AUTH, "content-type": ["application/json", "text/plain", "image/png"][i % 3]})
            elif kind == 1:  # a valid body mutated somewhere
                r = c.post("/v1/plan", content=json.dumps(mutate(valid)).encode(),  # NaN too
                           headers={**AUTH, "content-type": "application/json"})  # fmt: skip
                if r.status_code == 200:
                    continue  # the mutation happened to be harmless (e.g. an ignored extra seed value)
            elif kind == 2:  # truncated JSON
                text = json.dumps(valid)
                r = c.post(path, content=text[: int(rng.integers(1, len(text)))].encode(),
                           headers={**AUTH, "content-type": "application/json"})  # fmt: skip
            elif kind == 3:  # image bytes that lie about their shape or encoding
                shape = [int(x) for x in rng.integers(-2, 70, size=int(rng.integers(0, 6)))]
                data = base64.b64encode(rng.bytes(int(rng.integers(0, 3000)))).decode()
                img = {"data": data, "shape": shape} if rng.random() < 0.7 else {"png": data}
                r = c.post("/v1/plan", json={"obs": img, "goal": raw(goal)}, headers=AUTH)
            else:  # wrong methods, tokens and headers
                r = c.request(["PUT", "PATCH", "DELETE", "GET"][i % 4], path, headers={
                    "Authorization": ["Bearer", "Basic abc", f"Bearer {TOKEN}"][i % 3]}, content=b"{}")
            sent += 1
            assert 400 <= r.status_code < 500, (i, kind, path, r.status_code, r.text[:200])
            assert "error" in r.json(), r.text[:200]
        assert sent >= 250
        assert c.get("/v1/health").json()["status"] == "ok"
        r = c.post("/v1/plan", json={"obs": raw(obs), "goal": raw(goal)}, headers=AUTH)
        assert r.status_code == 200
        assert np.asarray(r.json()["actions"]).shape == (1, PLAN.horizon * serve_wm.meta.frameskip, 2)
        text = c.get("/metrics", headers=AUTH).text
        assert metric(text, "jepaworld_worker_up") == 1
        print(f"fuzz: {sent} bad requests, all answered 4xx with a JSON error; server healthy")


def test_queue_full_answers_503_and_timeouts_504(serve_wm, serve_frames):
    obs, goal = serve_frames
    app = make_app(serve_wm, queue_size=1, timeout_s=0.3)
    c = TestClient(app)  # no lifespan: the planning thread never starts, so nothing leaves the queue
    assert c.get("/v1/health").status_code == 503
    r = c.post("/v1/plan", json={"obs": raw(obs), "goal": raw(goal)}, headers=AUTH)
    assert r.status_code == 504 and "nothing was done" in r.json()["error"] and r.headers["Retry-After"] == "1"
    r = c.post("/v1/plan", json={"obs": raw(obs), "goal": raw(goal)}, headers=AUTH)
    assert r.status_code == 503 and "queue is full" in r.json()["error"] and r.headers["Retry-After"] == "1"
    assert 'jepaworld_rejected_total{reason="queue_full"} 1' in c.get("/metrics", headers=AUTH).text


# ------------------------------------------------------------------------------ closed loop
@pytest.mark.numerics
def test_closed_loop_through_the_server_matches_local_mpc_exactly(serve_wm, episodes):
    res, budget = serve_wm.meta.resolution, 20
    with serving(make_app(serve_wm)) as url, Client(url, token=TOKEN) as client:
        for ep in episodes[:2]:
            local = Recording(serve_wm.mpc(PLAN, seed=7 + ep.index))
            [want] = run_mpc("tworoom", [ep], budget, res, local)
            remote = Recording(RemoteController(client, seed=7 + ep.index))
            [got] = run_mpc("tworoom", [ep], budget, res, remote)
            remote.mpc.close()
            assert (got.success, got.steps, got.final_distance) == (want.success, want.steps, want.final_distance)
            assert len(remote.blocks) == len(local.blocks)
            for a, b in zip(remote.blocks, local.blocks, strict=True):
                np.testing.assert_array_equal(a, b)
        # open loop: the same plan as wm.plan with the same seed
        env = make("tworoom", resolution=res)
        obs, _ = env.reset(seed=3)
        goal = env.render_state(episodes[0].goal)
        np.testing.assert_array_equal(client.plan(obs, goal, seed=5), serve_wm.plan(obs, goal, PLAN, seed=5))
        assert client.health()["sessions"] == 0


@pytest.mark.numerics
def test_a_vanished_client_does_not_disturb_another_session(serve_wm, episodes):
    ep_b, res, budget = episodes[1], serve_wm.meta.resolution, 20
    local = Recording(serve_wm.mpc(PLAN, seed=11))
    [want] = run_mpc("tworoom", [ep_b], budget, res, local)
    app = make_app(serve_wm, session_ttl_s=1.0)
    with serving(app) as url:
        env = make("tworoom", resolution=res)
        obs, _ = env.reset(seed=ep_b.index)
        goal = env.render_state(episodes[0].goal)
        gone = Client(url, token=TOKEN)
        # A plans with other settings, so its requests never share B's planner batch: B's plans are then
        # batch-1 plans, equal to local ones bit for bit on any CPU (merged ones agree to rounding only)
        s_a = gone.session(goal, seed=3, samples=PLAN.samples - 1)
        for _ in range(2):
            for a in s_a.act(obs):
                obs, *_ = env.step(a)
        result: dict = {}

        def run_b():
            with Client(url, token=TOKEN) as client:
                remote = RemoteController(client, seed=11)
                [result["got"]] = run_mpc("tworoom", [ep_b], budget, res, remote)
                remote.close()

        thread = threading.Thread(target=run_b)
        thread.start()
        # client A vanishes mid-request: once after sending a whole frame (the server plans it and
        # answers a closed socket), once halfway through uploading one
        payload = json.dumps({"obs": encode_image(obs)}).encode()
        port = int(url.rsplit(":", 1)[1])
        for cut in (len(payload), len(payload) // 2):
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(f"POST /v1/sessions/{s_a.id}/act HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: "
                             f"Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: {len(payload)}"
                             "\r\n\r\n".encode() + payload[:cut])  # fmt: skip
            time.sleep(0.05)
        gone.close()
        thread.join(60)
        got = result["got"]
        assert (got.success, got.steps, got.final_distance) == (want.success, want.steps, want.final_distance)
        time.sleep(1.8)  # A is idle past the TTL: the sweeper drops it
        with Client(url, token=TOKEN) as c:
            with pytest.raises(ServerError) as e:
                c.request("POST", f"/v1/sessions/{s_a.id}/act", {"obs": encode_image(obs)})
            assert e.value.status == 404 and "expired" in e.value.message
            text = c.metrics()
            assert metric(text, "jepaworld_sessions") == 0 and metric(text, "jepaworld_sessions_expired_total") >= 1
            assert c.health()["status"] == "ok"
            # both cut requests were answered (into closed sockets) without a 5xx; the whole one was planned
            assert not re.search(r'status="5\d\d"', text)
            assert 'route="/v1/sessions/{session_id}/act",status="400"} 1' in text  # the half-uploaded body


@pytest.mark.numerics
def test_concurrent_requests_are_planned_in_one_batch(serve_wm, episodes):
    res = serve_wm.meta.resolution
    env = make("tworoom", resolution=res)
    starts = [env.reset(seed=i)[0] for i in range(6)]
    goal = env.render_state(episodes[0].goal)
    with serving(make_app(serve_wm, window_ms=300)) as url:
        answers: list = [None] * len(starts)

        def ask(i):
            with Client(url, token=TOKEN) as c:
                answers[i] = c.plan(starts[i], goal, seed=i, full=True)

        threads = [threading.Thread(target=ask, args=(i,)) for i in range(len(starts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        with Client(url, token=TOKEN) as c:
            text = c.metrics()
    assert max(a["batch_size"] for a in answers) > 1
    merged = metric(text, "jepaworld_batch_size_count") - metric(text, 'jepaworld_batch_size_bucket{le="1"}')
    assert merged >= 1, "no planner call merged two requests"
    assert metric(text, "jepaworld_batch_size_sum") == len(starts)
    for i, a in enumerate(answers):  # merged or not, each plan is the one it gets alone
        alone = serve_wm.mpc(PLAN, seed=i)
        assert_same_plan(a["actions"], a["cost"], alone.plan_once(starts[i], goal), alone.last_cost)


def assert_same_plan(got: np.ndarray, got_cost, want: np.ndarray, want_cost) -> None:
    """A plan made in a merged batch is the plan made alone, judged by its cost.

    The batch changes GEMM shapes, so costs differ by float32 rounding; where two candidates' costs are
    within that rounding, the one picked (an argmin, a top-k) may differ, and with it the actions. The
    cost of the plan is continuous in the rounding: it must agree to ~1e-5 of its size. Actions must
    agree unless such a tie flipped the pick (then the costs still agree)."""
    got_cost, want_cost = np.asarray(got_cost, np.float64).ravel(), np.asarray(want_cost, np.float64).ravel()
    assert got_cost.size and np.isfinite(got_cost).all() and np.isfinite(want_cost).all()
    np.testing.assert_allclose(got_cost, want_cost, rtol=1e-5, atol=1e-6 * float(np.abs(want_cost).max()))
    if not np.allclose(got, want, atol=1e-5):
        warnings.warn("a near-tie between candidates picked another plan of the same cost", stacklevel=2)


# --------------------------------------------------------------------- the batching primitive
@pytest.mark.numerics
def test_act_together_steps_each_controller_as_if_alone(serve_wm, episodes):
    import torch

    from jepaworld.plan import act_together, sample_noise
    from jepaworld.plan.noise import RowGenerators

    gens = [torch.Generator().manual_seed(s) for s in (1, 2)]
    joint = sample_noise("colored", 3, 4, 3, 5, 2, generator=RowGenerators(((gens[0], 1), (gens[1], 2))))
    for rows, n, seed in ((joint[:1], 1, 1), (joint[1:], 2, 2)):  # each group: the draw of its generator alone
        alone = sample_noise("colored", n, 4, 3, 5, 2, generator=torch.Generator().manual_seed(seed))
        np.testing.assert_array_equal(rows, alone)

    env = make("tworoom", resolution=serve_wm.meta.resolution)
    goals = [env.render_state(ep.goal) for ep in episodes]
    starts = [env.reset(seed=i)[0] for i in range(len(episodes))]
    alone = [serve_wm.mpc(PLAN, seed=s) for s in range(len(goals))]
    together = [serve_wm.mpc(PLAN, seed=s) for s in range(len(goals))]
    for a, t, g in zip(alone, together, goals, strict=True):
        a.reset(g), t.reset(g)
    for _ in range(3):
        want = [a.act(o) for a, o in zip(alone, starts, strict=True)]
        got = act_together(together, starts)
        for w, g, a, t in zip(want, got, alone, together, strict=True):
            assert_same_plan(g, t.last_cost, w, a.last_cost)
    with pytest.raises(JepaworldError, match="group them"):
        act_together([alone[0], serve_wm.mpc(PlanConfig(samples=8, elites=2), seed=0)], starts[:2])
