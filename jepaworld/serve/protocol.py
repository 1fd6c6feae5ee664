"""The HTTP connection layer: uvicorn's h11 protocol with the limits a hostile client calls for.

uvicorn on its own keeps a connection that never sends a request open forever, and answers its
``limit_concurrency`` overflow with a plain-text 503 on every route, health included: 600 idle
sockets locked everyone out. Here, instead:

- a request's headers and body must arrive within ``request_timeout_s`` of the connection opening
  (or of the previous answer on a kept-alive one); otherwise 408 and the connection is closed;
- at most ``max_connections`` are open: a new one over the cap closes the connection that has
  waited longest without sending a request (a client mid-request is never dropped for it);
- request headers are limited to 16 KiB; uvicorn's own refusals (a malformed request) are our JSON
  error shape, like every answer of the app.

Admission of requests (how many may be in flight) is the app's job (``app.Admission``), so that
``/v1/health`` stays answerable whatever else is happening.
"""

from __future__ import annotations

import json
import time
from typing import Any

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

MAX_HEADER_BYTES = 16 * 1024


def error_response(status: int, reason: str, message: str, headers: dict[str, str] | None = None) -> bytes:
    """A whole HTTP/1.1 answer ``{"error": message}`` that closes the connection (written past h11)."""
    body = json.dumps({"error": message}).encode()
    head = {"content-type": "application/json", "content-length": str(len(body)), "connection": "close",
            **(headers or {})}  # fmt: skip
    lines = "".join(f"{k}: {v}\r\n" for k, v in head.items())
    return f"HTTP/1.1 {status} {reason}\r\n{lines}\r\n".encode() + body


class GuardedH11Protocol(H11Protocol):
    """One connection (see the module docstring); ``protocol_class`` sets the limits."""

    request_timeout_s: float = 10.0
    max_connections: int = 512
    _head: int | None  # header bytes seen of the request being read; None once its headers are in
    _tail: bytes  # the last 3 bytes seen, so a b"\r\n\r\n" split across reads is found

    def connection_made(self, transport: Any) -> None:
        super().connection_made(transport)
        self._deadline: Any = None
        self._waiting_since: float | None = None
        if len(self.connections) > self.max_connections and not self._shed_idle():
            self.transport.write(error_response(503, "Service Unavailable", f"{self.max_connections} connections "
                                                "are open and all are in use; retry shortly",
                                                {"Retry-After": "1"}))  # fmt: skip
            self.transport.close()
            return
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection has the same time to arrive

    def data_received(self, data: bytes) -> None:
        head = getattr(self, "_head", None)
        if head is not None:  # still reading a request's headers: bound their size
            seen = self._tail + data
            end = seen.find(b"\r\n\r\n")
            size = head + (len(data) if end < 0 else end - len(self._tail))
            if size > MAX_HEADER_BYTES:
                self._head = None
                self.send_400_response("Request headers too large")
                return
            self._head, self._tail = (None, b"") if end >= 0 else (size, seen[-3:])
        super().data_received(data)

    def handle_events(self) -> None:
        before = self.cycle
        super().handle_events()
        if self.cycle is not before and self._waiting_since is not None:
            self._waiting_since = None  # headers in: no longer idle (its body still has the deadline)

    def send_400_response(self, msg: str) -> None:
        if self.transport.is_closing():
            return
        self.transport.write(error_response(400, "Bad Request", f"{msg.rstrip('.')}: not a valid HTTP/1.1 request "
                                            f"(or headers over {MAX_HEADER_BYTES} bytes)"))  # fmt: skip
        self.transport.close()

    # ------------------------------------------------------------------------------ deadlines
    def _arm(self) -> None:
        self._disarm()
        self._waiting_since = time.monotonic()
        self._armed_for = self.cycle
        self._head, self._tail = 0, b""  # header bytes seen of the next request
        self._deadline = self.loop.call_later(self.request_timeout_s, self._expire)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expire(self) -> None:
        """The deadline passed: close unless the request arrived whole (then it is the app's to answer)."""
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle
        if cycle is self._armed_for:  # no request started since the deadline was set
            self._refuse_slow("no request")
        elif cycle.more_body and not cycle.response_started:  # headers in, body still arriving
            cycle.disconnected = True  # the app sees the client gone, its receive() returns
            cycle.message_event.set()
            self._refuse_slow("the request body did not arrive")

    def _refuse_slow(self, what: str) -> None:
        message = f"{what} within {self.request_timeout_s:g} s; send the whole request at once"
        self.transport.write(error_response(408, "Request Timeout", message))
        try:
            self.conn.send(h11.ConnectionClosed())
        except h11.LocalProtocolError:
            pass
        self.transport.close()

    def _shed_idle(self) -> bool:
        """Close the connection that has waited longest for a request; False if none is idle."""
        idle: list[tuple[float, GuardedH11Protocol]] = []
        for c in self.connections:
            since = getattr(c, "_waiting_since", None)
            if c is not self and isinstance(c, GuardedH11Protocol) and since is not None:
                idle.append((since, c))
        if not idle:
            return False
        oldest = min(idle, key=lambda pair: pair[0])[1]
        oldest._disarm()
        oldest._waiting_since = None
        oldest.transport.close()
        return True


def protocol_class(request_timeout_s: float, max_connections: int) -> type[GuardedH11Protocol]:
    """A ``GuardedH11Protocol`` with these limits (uvicorn instantiates the class per connection)."""
    return type("GuardedH11", (GuardedH11Protocol,),
                {"request_timeout_s": request_timeout_s, "max_connections": max_connections})  # fmt: skip


def uvicorn_server(app: Any, host: str = "127.0.0.1", port: int = 8000, log_level: str = "info") -> Any:
    """The uvicorn server of an app from ``create_app``, with its settings' connection limits; on shutdown
    (SIGTERM, Ctrl-C) queued requests are answered 503 at once and a plan in flight gets
    ``shutdown_timeout_s`` to finish (``jepaworld serve`` and the tests run this)."""
    import uvicorn

    served = app.state.server
    s = served.settings

    class Server(uvicorn.Server):
        async def shutdown(self, sockets: Any = None) -> None:
            served.drain()
            await super().shutdown(sockets)

    config = uvicorn.Config(
        app, host=host, port=port, log_level=log_level, lifespan="on", server_header=False,
        http=protocol_class(s.request_timeout_s, s.max_connections), h11_max_incomplete_event_size=MAX_HEADER_BYTES,
        timeout_keep_alive=5, timeout_graceful_shutdown=s.shutdown_timeout_s, limit_concurrency=None,
    )  # fmt: skip
    return Server(config)
