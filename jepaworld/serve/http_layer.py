"""The HTTP layer under the routes: strict-JSON answers, bodies parsed off the event loop, request metrics
(an ASGI middleware), and the handlers that turn every failure into a JSON ``{"error": ...}``."""

# no `from __future__ import annotations`: FastAPI and Starlette read these handlers' annotations

import asyncio
import json
import logging
import time
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jepaworld.config import json_text
from jepaworld.errors import JepaworldError
from jepaworld.serve.errors import ApiError
from jepaworld.serve.metrics import Metrics

log = logging.getLogger(__name__)

METHODS = {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}


class StrictJSONResponse(JSONResponse):
    """Every answer is standard JSON: a non-finite number (a NaN cost) is null, never a bare NaN or a 500."""

    def render(self, content: Any) -> bytes:
        return json_text(content).encode()


class ThreadParsedRoute(APIRoute):
    """A route whose JSON body is parsed in a worker thread: a large body never stalls the event loop
    (``/v1/health`` stays answerable). FastAPI then finds the parsed body on the request."""

    def get_route_handler(self) -> Any:
        handler = super().get_route_handler()

        async def parse_then_handle(request: Request) -> Response:
            try:
                body = await request.body()
            except ClientDisconnect:
                raise ApiError(400, "the client went away before its body arrived") from None
            if body:
                try:
                    request._json = await asyncio.to_thread(json.loads, body)
                except (ValueError, RecursionError):
                    raise ApiError(400, "the body is not valid JSON; send a JSON object (Content-Type: "
                                        "application/json)") from None  # fmt: skip
            return await handler(request)

        return parse_then_handle


class MetricsMiddleware:
    """ASGI middleware: count every request by method, route template and status, with its latency."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app, self.metrics = app, metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0, status = time.perf_counter(), 500

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            method = scope.get("method", "other") if scope.get("method") in METHODS else "other"
            self.metrics.request(method, route, status, time.perf_counter() - t0)


def _issue(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body" and not str(p).startswith("function-"))
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}" if loc else msg


def install_handlers(app: FastAPI) -> None:
    def body(message: str, detail: list[str] | None = None) -> dict[str, Any]:
        return {"error": message, **({"detail": detail} if detail else {})}

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> StrictJSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        if exc.status_code == 404 and message == "Not Found":
            message = f"no route {request.method} {request.url.path}; see /docs for the API"
        elif exc.status_code == 405:
            message = f"{request.method} is not allowed on {request.url.path}; see /docs"
        return StrictJSONResponse(body(message, getattr(exc, "items", None)), exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> StrictJSONResponse:
        errors = list(exc.errors())
        if any(e.get("type") == "json_invalid" for e in errors):
            return StrictJSONResponse(body("the body is not valid JSON; send a JSON object (Content-Type: "
                                     "application/json)"), 400)  # fmt: skip
        issues = list(dict.fromkeys(_issue(e) for e in errors))[:20]
        head = "; ".join(issues[:3]) + (f" (and {len(issues) - 3} more)" if len(issues) > 3 else "")
        return StrictJSONResponse(body(f"invalid request: {head}; see /docs for the schema", issues), 422)

    @app.exception_handler(JepaworldError)
    async def user_error(request: Request, exc: JepaworldError) -> StrictJSONResponse:
        return StrictJSONResponse(body(str(exc)), 422)

    @app.exception_handler(Exception)
    async def internal(request: Request, exc: Exception) -> StrictJSONResponse:
        log.exception("internal error on %s %s", request.method, request.url.path)
        return StrictJSONResponse(body(f"internal error ({type(exc).__name__}); the server is still running"), 500)
