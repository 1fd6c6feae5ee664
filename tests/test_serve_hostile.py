"""`jepaworld serve` against a hostile client on the same machine (issue 29): each defect the probe
found, reproduced, with what the server must do instead. Loopback only: TestClient or a uvicorn
server on an ephemeral 127.0.0.1 port, run as `jepaworld serve` runs it.
"""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
import warnings

import numpy as np
import pytest

pytest.importorskip("fastapi")
uvicorn = pytest.importorskip("uvicorn")

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

from jepaworld.serve import ServeSettings, create_app  # noqa: E402
from jepaworld.serve.app import body_limit  # noqa: E402
from tests.serve_helpers import AUTH, PLAN, TOKEN, make_app, raw, serving  # noqa: E402
from tests.strict_json import loads_strict  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def http(port: int, request: bytes, timeout: float = 5.0) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes on a new connection, read the whole answer -> (status, headers, body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        return read_answer(sock)


def read_answer(sock: socket.socket) -> tuple[int, dict[str, str], bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return 0, {}, data  # closed without an answer
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in (h.split(":", 1) for h in lines[1:])}
    while len(body) < int(headers.get("content-length", 0)):
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return int(lines[0].split()[1]), headers, body


def get(path: str, port: int, headers: str = "") -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n{headers}\r\n".encode()


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


# ------------------------------------------------------------------ 1. idle connections, limits
def test_idle_connections_are_closed_and_health_stays_answerable(serve_wm):
    """Defect 1: 600 idle TCP connections locked everyone out (uvicorn's plain-text 503 on every route)."""
    app = make_app(serve_wm, request_timeout_s=0.5, max_connections=20)
    with serving(app) as url:
        port = port_of(url)
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(40)]  # twice the cap
        try:
            time.sleep(0.1)
            for _ in range(3):  # health and a tokened route answer at once, in JSON, while the sockets idle
                status, headers, body = http(port, get("/v1/health", port))
                assert status == 200 and loads_strict(body)["status"] == "ok"
            status, _, body = http(port, get("/v1/model", port, f"Authorization: Bearer {TOKEN}\r\n"))
            assert status == 200 and loads_strict(body)["limits"]["request_timeout_s"] == 0.5
            # over the cap, the longest-idle connections were closed to make room; the rest time out with 408
            time.sleep(0.8)
            answers = []
            for s in idle:
                s.settimeout(2)
                try:
                    answers.append(read_answer(s))
                except (ConnectionResetError, TimeoutError):
                    answers.append((0, {}, b""))
            assert all(a[0] in (0, 408) for a in answers), "an idle connection was left open"
            timed_out = [a for a in answers if a[0] == 408]
            assert timed_out and all("within 0.5 s" in loads_strict(b)["error"] for _, _, b in timed_out)
        finally:
            for s in idle:
                s.close()


def test_slow_headers_and_slow_bodies_are_cut_off(serve_wm):
    app = make_app(serve_wm, request_timeout_s=0.5)
    with serving(app) as url:
        port = port_of(url)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # headers that never end
            sock.sendall(b"GET /v1/health HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            t0 = time.monotonic()
            status, _, body = read_answer(sock)
            assert status == 408 and time.monotonic() - t0 < 2 and "no request" in loads_strict(body)["error"]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:  # a body that never arrives
            sock.sendall(f"POST /v1/plan HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n"
                         'Content-Type: application/json\r\nContent-Length: 5000\r\n\r\n{"obs": '.encode())  # fmt: skip
            status, _, body = read_answer(sock)
            assert status in (0, 400, 408)
        assert http(port, get("/v1/health", port))[0] == 200


def test_every_error_of_the_server_is_our_json_shape(serve_wm):
    """uvicorn's own refusals (a malformed request, a 100 KB header) are JSON too, never plain text."""
    with serving(make_app(serve_wm)) as url:
        port = port_of(url)
        for request in (b"GARBAGE\r\n\r\n", get("/v1/health", port, "X-Big: " + "a" * 100_000 + "\r\n")):
            status, headers, body = http(port, request)
            assert status == 400 and headers["content-type"] == "application/json"
            assert loads_strict(body)["error"]


# -------------------------------------------------------------------------- 2. token before body
def test_the_token_is_checked_before_the_body_is_read(serve_wm):
    """Defect 2: `{"obs": ` without a token got 400 (parsed first); a 12 MB body was parsed before its 401."""
    c = TestClient(make_app(serve_wm))
    r = c.post("/v1/plan", content=b'{"obs": ', headers={"Content-Type": "application/json"})
    assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer"
    for bad in ("Bearer wrong-token-0123456789", "Basic abc", "Bearer", TOKEN):
        r = c.post("/v1/plan", content=b"[{}]", headers={"Authorization": bad})
        assert r.status_code == 401 and r.headers["WWW-Authenticate"] == "Bearer", bad
    with serving(make_app(serve_wm)) as url:  # declared 12 MB, never sent: 401 at once from the headers alone
        port = port_of(url)
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"POST /v1/plan HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                         b"Content-Length: 12000000\r\n\r\n[{},{},")  # fmt: skip
            status, headers, body = read_answer(sock)
            assert status == 401 and "token" in loads_strict(body)["error"]


def test_the_default_body_limit_fits_the_largest_real_request(serve_wm, serve_frames):
    res, s = serve_wm.meta.resolution, ServeSettings()
    limit = body_limit(res, s.max_frames)
    c = TestClient(make_app(serve_wm))
    assert c.get("/v1/model", headers=AUTH).json()["limits"]["max_body_bytes"] == limit
    batch = np.repeat(serve_frames[0][None], s.max_frames, axis=0)
    biggest = json.dumps({"obs": raw(batch), "goal": raw(batch)}).encode()
    assert len(biggest) < limit < 4 * len(biggest)  # what a client may send, and not much more
    r = c.post("/v1/plan", content=b"[" + b"{}," * (limit // 3) + b"{}]", headers=AUTH)
    assert r.status_code == 413


def test_a_deeply_nested_body_is_a_400_not_a_crash(serve_wm):
    c = TestClient(make_app(serve_wm))
    deep = b"[" * 50_000 + b"]" * 50_000  # under the body limit, far over the parser's recursion limit
    r = c.post("/v1/plan", content=deep, headers={**AUTH, "Content-Type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]
    assert c.get("/v1/health").status_code == 503  # no lifespan here: the planning thread is not started


# ---------------------------------------------------------------------- 3. planner settings
@pytest.mark.parametrize("planner", [
    '{"init_std": 1e308}', '{"planner": "gd", "gd_lr": 1e308}', '{"init_std": Infinity}',
    '{"planner": "gd", "gd_lr": Infinity}', '{"noise_beta": NaN}', '{"temperature": -Infinity}',
    '{"init_std": 0}', '{"noise_beta": 1e300}',
])  # fmt: skip
def test_non_finite_and_huge_planner_settings_are_422(serve_wm, serve_frames, planner):
    """Defect 3: 1e308 -> 500 (overflow in torch); Infinity / NaN -> 200, planned with garbage."""
    obs, goal = json.dumps(raw(serve_frames[0])), json.dumps(raw(serve_frames[1]))
    body = f'{{"obs": {obs}, "goal": {goal}, "planner": {planner}}}'
    with TestClient(make_app(serve_wm)) as c:
        r = c.post("/v1/plan", content=body.encode(), headers={**AUTH, "Content-Type": "application/json"})
        assert r.status_code == 422, r.text
        assert "planner" in r.text


def test_a_planner_failure_caused_by_the_request_is_422(serve_wm, serve_frames, monkeypatch):
    import jepaworld.serve.batching as batching

    def overflow(*a, **k):
        raise RuntimeError("value cannot be converted to type float without overflow")

    with TestClient(make_app(serve_wm), raise_server_exceptions=False) as c:
        monkeypatch.setattr(batching, "act_together", overflow)
        body = {"obs": raw(serve_frames[0]), "goal": raw(serve_frames[1]), "planner": {"init_std": 50.0}}
        r = c.post("/v1/plan", json=body, headers=AUTH)
        assert r.status_code == 422 and "these settings failed" in r.json()["error"]
        r = c.post("/v1/plan", json={"obs": raw(serve_frames[0]), "goal": raw(serve_frames[1])}, headers=AUTH)
        assert r.status_code == 500 and "internal error" in r.json()["error"]  # the server's own settings: its bug


# ------------------------------------------------------------------------ 4. decompression bomb
def bomb_png(size: int) -> str:
    """A small PNG whose header claims size x size pixels."""
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (16, 16)).save(buf, format="PNG")
    data = bytearray(buf.getvalue())
    data[16:24] = size.to_bytes(4, "big") * 2  # IHDR width, height (the CRC no longer matches)
    return base64.b64encode(bytes(data)).decode()


@pytest.mark.parametrize("size", [20000, 60000])
def test_a_png_declaring_a_huge_size_is_the_wrong_size_422(serve_wm, serve_frames, size, caplog):
    """Defect 4: 20000^2 / 60000^2 headers -> 500 (DecompressionBombError, two tracebacks)."""
    c = TestClient(make_app(serve_wm))
    r = c.post("/v1/plan", json={"obs": {"png": bomb_png(size)}, "goal": raw(serve_frames[1])}, headers=AUTH)
    assert r.status_code == 422 and f"{size}x{size} pixels" in r.json()["error"]
    assert "Traceback" not in caplog.text


# -------------------------------------------------------------------- 5. per-client session quota
def test_one_client_cannot_take_every_session(serve_wm, serve_frames):
    """Defect 5: one token holder opened all 1,024 sessions; everyone else got 429 for 5 minutes."""
    with TestClient(make_app(serve_wm, max_sessions=8, max_sessions_per_client=2)) as c:
        ids = [c.post("/v1/sessions", json={"goal": raw(serve_frames[1])}, headers=AUTH).json()["id"] for _ in range(2)]
        r = c.post("/v1/sessions", json={"goal": raw(serve_frames[1])}, headers=AUTH)
        assert r.status_code == 429 and r.headers["Retry-After"] and "the most one client may" in r.json()["error"]
        assert c.get("/v1/model", headers=AUTH).json()["limits"]["max_sessions_per_client"] == 2
        assert c.delete(f"/v1/sessions/{ids[0]}", headers=AUTH).status_code == 204
        assert c.post("/v1/sessions", json={"goal": raw(serve_frames[1])}, headers=AUTH).status_code == 201
    assert ServeSettings().max_sessions_per_client is None  # default: max_sessions // 8 per address
    limits = TestClient(make_app(serve_wm)).get("/v1/model", headers=AUTH).json()["limits"]
    assert limits["max_sessions_per_client"] == 128


# ----------------------------------------------------------------------- 6. Host on a tokenless server
def test_a_tokenless_server_answers_loopback_hosts_only(serve_wm):
    """Defect 6: `Host: evil.example` -> 200 on the tokenless loopback server (DNS rebinding)."""
    c = TestClient(create_app(serve_wm, ServeSettings(token=None), PLAN), base_url="http://127.0.0.1:8000")
    for host in ("127.0.0.1:8000", "localhost", "[::1]:8000", "127.0.0.1"):
        assert c.get("/v1/model", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8000", "127.0.0.1.evil.example", ""):
        r = c.get("/v1/model", headers={"Host": host})
        assert r.status_code == 403 and "loopback" in r.json()["error"], host
    # with a token, names other than loopback are fine (the token is the guard)
    other_host = {**AUTH, "Host": "planner.internal"}
    assert TestClient(make_app(serve_wm)).get("/v1/model", headers=other_host).status_code == 200


# ------------------------------------------------------------------------ 7. bounded shutdown
def slow_planning(monkeypatch, seconds: float) -> None:
    import jepaworld.serve.batching as batching

    real = batching.act_together

    def slow(*a, **k):
        time.sleep(seconds)
        return real(*a, **k)

    monkeypatch.setattr(batching, "act_together", slow)


def test_shutdown_answers_queued_plans_503_and_ends_soon(serve_wm, serve_frames, monkeypatch):
    """Defect 7: four queued 64-frame plans kept the process alive 22.4 s after SIGTERM."""
    slow_planning(monkeypatch, 1.0)
    servers: list = []
    answers: list = []
    app = make_app(serve_wm, max_batch=1, shutdown_timeout_s=2.0)
    with serving(app, servers) as url:
        port = port_of(url)
        body = json.dumps({"obs": raw(serve_frames[0]), "goal": raw(serve_frames[1])}).encode()
        request = (f"POST /v1/plan HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: "
                   f"application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body  # fmt: skip

        def ask():
            try:
                answers.append(http(port, request, timeout=10))
            except OSError as e:
                answers.append((0, {}, str(e).encode()))

        threads = [threading.Thread(target=ask) for _ in range(4)]
        for t in threads:
            t.start()
            time.sleep(0.05)
        time.sleep(0.3)  # one plan in flight, three queued
        t0 = time.monotonic()
        servers[0].should_exit = True  # what SIGTERM does
        for t in threads:
            t.join(10)
        stopped = time.monotonic() - t0
    assert stopped < 4.0, f"shutdown took {stopped:.1f} s"
    statuses = sorted(a[0] for a in answers)
    assert statuses.count(503) >= 2, statuses  # the queued ones, at once
    for status, headers, body in answers:
        if status == 503:
            assert "shutting down" in loads_strict(body)["error"] and headers["retry-after"]


# ------------------------------------------------------------------ 4. a timeout mid-plan (409 after)
def test_a_session_whose_request_timed_out_mid_plan_answers_409(serve_wm, serve_frames, monkeypatch):
    """The act timed out while planning: the session moved on without its client, so it refuses serve_frames."""
    with TestClient(make_app(serve_wm, timeout_s=0.3)) as c:
        sid = c.post("/v1/sessions", json={"goal": raw(serve_frames[1])}, headers=AUTH).json()["id"]
        slow_planning(monkeypatch, 1.0)
        r = c.post(f"/v1/sessions/{sid}/act", json={"obs": raw(serve_frames[0])}, headers=AUTH)
        assert r.status_code == 504 and "planning took longer than 0.3 s" in r.json()["error"]
        time.sleep(0.8)  # the plan finishes in the background
        r = c.post(f"/v1/sessions/{sid}/act", json={"obs": raw(serve_frames[0])}, headers=AUTH)
        assert r.status_code == 409 and "timed out" in r.json()["error"] and "new session" in r.json()["error"]
        assert c.delete(f"/v1/sessions/{sid}", headers=AUTH).status_code == 204


# ------------------------------------------------------------------------- strict JSON answers
def test_every_answer_is_strict_json_even_with_a_non_finite_cost(serve_wm, serve_frames, monkeypatch):
    """A NaN cost (a diverged model) is answered as null: jq and JSON.parse read every answer."""
    import jepaworld.serve.batching as batching

    real = batching.act_together

    def nan_cost(ctrls, frames_):
        out = real(ctrls, frames_)
        for c in ctrls:
            c.last_cost = np.full_like(c.last_cost, np.nan)
        return out

    with TestClient(make_app(serve_wm)) as c:
        monkeypatch.setattr(batching, "act_together", nan_cost)
        obs, goal = raw(serve_frames[0]), raw(serve_frames[1])
        r = c.post("/v1/plan", json={"obs": obs, "goal": goal, "seed": 1}, headers=AUTH)
        assert r.status_code == 200 and loads_strict(r.text)["cost"] == [None]
        sid = c.post("/v1/sessions", json={"goal": raw(serve_frames[1])}, headers=AUTH).json()["id"]
        r = c.post(f"/v1/sessions/{sid}/act", json={"obs": raw(serve_frames[0])}, headers=AUTH)
        assert r.status_code == 200 and loads_strict(r.text)["cost"] is None
        for path in ("/v1/health", "/v1/model", "/openapi.json", "/v1/nope"):
            loads_strict(c.get(path, headers=AUTH).text)
