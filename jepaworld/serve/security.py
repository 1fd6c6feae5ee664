"""Who may call the server and how much they may send.

- a bearer token (``JEPAWORLD_TOKEN`` or ``--token-file``) guards every route but ``/v1/health``;
  a server without one binds loopback only (``check_bind``; both rules in ``jepaworld.hosting.access``);
- ``BodyLimit`` refuses bodies over ``max_bytes`` with 413, by Content-Length or while streaming.
"""

from __future__ import annotations

import json

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jepaworld.hosting.access import TOKEN_ENV, check_bind, is_loopback, load_token, token_matches
from jepaworld.serve.errors import ApiError

__all__ = ["TOKEN_ENV", "BearerAuth", "BodyLimit", "check_bind", "is_loopback", "load_token"]


class BearerAuth:
    """Checks the credentials of ``Authorization: Bearer <token>`` (no token configured: anyone)."""

    def __init__(self, token: str | None) -> None:
        self._token = token or None

    def check(self, credentials: str | None) -> None:
        if self._token is None:
            return
        if not token_matches(self._token, credentials):
            raise ApiError(401, "missing or wrong token: send the header `Authorization: Bearer <token>`",
                           headers={"WWW-Authenticate": "Bearer"})  # fmt: skip


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
        body = json.dumps({"error": BodyTooLarge(self.max_bytes).detail}).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})  # fmt: skip
        await send({"type": "http.response.body", "body": body})
