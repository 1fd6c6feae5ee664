"""Who may call the server and how much they may send.

- a bearer token (``JEPAWORLD_TOKEN`` or ``--token-file``) guards every route but ``/v1/health``
  and the API's own pages (``/docs``, ``/openapi.json``: the schema, no data); ``Gate`` checks it
  from the headers, before a byte of the body is read;
- a server without a token binds loopback only (``check_bind``; both rules in
  ``jepaworld.hosting.access``) and answers only requests whose ``Host`` is a loopback name, so a
  web page cannot reach it through DNS rebinding;
- ``Gate`` also admits at most ``max_inflight`` requests at once (503 + Retry-After beyond, never
  for ``/v1/health``) and answers 503 once the server is shutting down;
- ``BodyLimit`` refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jepaworld.hosting.access import TOKEN_ENV, check_bind, is_loopback, load_token, token_matches
from jepaworld.serve.errors import ApiError

__all__ = ["TOKEN_ENV", "BearerAuth", "BodyLimit", "Gate", "check_bind", "host_is_loopback", "is_loopback",
           "load_token"]


class BearerAuth:
    """Checks the credentials of ``Authorization: Bearer <token>`` (no token configured: anyone)."""

    def __init__(self, token: str | None) -> None:
        self._token = token or None

    @property
    def open(self) -> bool:
        """No token configured: anyone (on loopback) may call."""
        return self._token is None

    def check(self, credentials: str | None) -> None:
        if self._token is None:
            return
        if not token_matches(self._token, credentials):
            raise ApiError(401, "missing or wrong token: send the header `Authorization: Bearer <token>`",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip

    def check_header(self, authorization: bytes | None) -> None:
        """Check a raw ``Authorization`` header value (``Bearer <token>``, the scheme in any case)."""
        scheme, _, credentials = (authorization or b"").decode("latin-1").strip().partition(" ")
        self.check(credentials.strip() if scheme.lower() == "bearer" and credentials.strip() else None)


def is_open(path: str) -> bool:
    """Routes answered without a token: health, and the API's own pages (the schema; no data, no model)."""
    return path in ("/v1/health", "/docs", "/openapi.json") or path.startswith("/docs/")


def host_is_loopback(host_header: str) -> bool:
    """Whether a ``Host`` header names a loopback address (``127.0.0.1:8000``, ``localhost``, ``[::1]:80``)."""
    host = host_header.strip().lower()
    if host.startswith("["):
        host = host[1 : host.find("]")] if "]" in host else host
    elif host.count(":") == 1:
        host = host.split(":", 1)[0]
    return bool(host) and is_loopback(host)


async def send_error(send: Send, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
    """Answer ``{"error": message}`` from ASGI middleware (before the app has run)."""
    body = json.dumps({"error": message}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    head += [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class Gate:
    """ASGI middleware, outermost: host, shutdown, token and admission checks from the headers alone."""

    def __init__(self, app: ASGIApp, auth: BearerAuth, max_inflight: int, draining: Callable[[], bool]) -> None:
        self.app, self.auth, self.max_inflight, self.draining = app, auth, max_inflight, draining
        self.inflight = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        path = scope.get("path", "")
        if self.auth.open:
            host = headers.get(b"host", b"").decode("latin-1")
            if not host_is_loopback(host):
                await send_error(send, 403, f"this server has no token, so it answers requests addressed to a "
                                            f"loopback host only (Host: 127.0.0.1, localhost or [::1]), not {host!r}; "
                                            "serve with a token to be reached by other names")  # fmt: skip
                return
        if path == "/v1/health":  # always answered: a liveness probe must not fail while the server is busy
            await self.app(scope, receive, send)
            return
        if self.draining():
            await send_error(send, 503, "the server is shutting down; retry after it restarts (or on another "
                                        "instance)", {"Retry-After": "5", "Connection": "close"})  # fmt: skip
            return
        if not is_open(path):
            try:
                self.auth.check_header(headers.get(b"authorization"))
            except ApiError as e:
                await send_error(send, e.status_code, e.detail, e.headers)
                return
        if self.inflight >= self.max_inflight:
            await send_error(send, 503, f"{self.max_inflight} requests are in progress; retry shortly",
                             {"Retry-After": "1"})  # fmt: skip
            return
        self.inflight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.inflight -= 1


class BodyTooLarge(ApiError):
    def __init__(self, max_bytes: int) -> None:
        super().__init__(413, f"request body over {max_bytes} bytes; send fewer or smaller frames (raw uint8 at "
                              "the model's resolution, or PNG)")  # fmt: skip


class BodyLimit:
    """ASGI middleware: 413 for a body over ``max_bytes`` (declared or streamed)."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_big = int(declared) > self.max_bytes
            except ValueError:
                too_big = False
            if too_big:
                await self._refuse(send)
                return
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)  # handled by the app's ApiError handler
            return message

        await self.app(scope, limited, send)

    async def _refuse(self, send: Send) -> None:
        await send_error(send, 413, BodyTooLarge(self.max_bytes).detail, {"Connection": "close"})
