"""What the serve tests share (tests/test_serve.py, tests/test_serve_hostile.py): the token, a tiny planner,
raw frames, an app with test settings, and a real uvicorn server on an ephemeral loopback port. The shared
fixtures (``serve_wm``, ``serve_frames``) are in conftest.py."""

from __future__ import annotations

import base64
import contextlib
import socket
import threading
import time

import numpy as np

from jepaworld.config import PlanConfig
from jepaworld.serve import ServeSettings, create_app
from jepaworld.serve.protocol import uvicorn_server

TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
PLAN = PlanConfig(samples=16, elites=4, iterations=2, horizon=3, receding=1, cost="min")


def raw(a: np.ndarray) -> dict:
    return {"data": base64.b64encode(np.ascontiguousarray(a).tobytes()).decode(), "shape": list(a.shape)}


def make_app(wm, **settings):
    return create_app(wm, ServeSettings(**{"token": TOKEN, **settings}), PLAN)


@contextlib.contextmanager
def serving(app, servers: list | None = None):
    """uvicorn on 127.0.0.1, an ephemeral port, in a thread, as `jepaworld serve` runs it -> the base URL
    (``servers`` gets the uvicorn server, to stop it from a test)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn_server(app, log_level="error")
    if servers is not None:
        servers.append(server)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.01)
    assert server.started, "uvicorn did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
        sock.close()
