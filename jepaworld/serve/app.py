"""The HTTP API: ``create_app(wm, settings)`` -> a FastAPI app (``jepaworld serve RUN`` runs it).

    POST   /v1/plan                 frame(s) + goal(s) -> open-loop plan(s) of raw actions
    POST   /v1/sessions             goal (+ planner settings, seed) -> a closed-loop session id
    POST   /v1/sessions/{id}/act    the frame now -> the next block of raw actions
    DELETE /v1/sessions/{id}
    GET    /v1/health  /v1/model  /metrics      (OpenAPI page: /docs)

Requests are checked from their headers first (host, token, admission: ``security.Gate``), their
JSON bodies parsed in a worker thread and decoded in the event loop; planning happens in one thread
that owns the model (``batching.BatchWorker``), which merges concurrent requests into one planner
call. Every failure answers a JSON ``{"error": ...}`` that says what to change; none stops the server.
Connections are bounded in time and number by ``protocol.GuardedH11Protocol``.

Here the app is assembled; ``server.py`` holds what the routes share (``Server``, ``ServeSettings``),
``http_layer.py`` the strict-JSON answers, body parsing, request metrics and error handlers,
``status_routes.py`` and ``plan_routes.py`` the routes.
"""

# no `from __future__ import annotations`: FastAPI reads the dependency's annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Annotated, Any, cast

from fastapi import Depends, FastAPI
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from jepaworld.config import PlanConfig
from jepaworld.serve.docs_page import add_docs_page
from jepaworld.serve.http_layer import MetricsMiddleware, StrictJSONResponse, ThreadParsedRoute, install_handlers
from jepaworld.serve.plan_routes import add_planning_routes
from jepaworld.serve.schemas import ErrorResponse
from jepaworld.serve.security import BodyLimit, Gate
from jepaworld.serve.server import Server, ServeSettings, body_limit, plan_work
from jepaworld.serve.status_routes import add_status_routes

__all__ = ["ServeSettings", "body_limit", "create_app", "plan_work"]


def create_app(wm: Any, settings: ServeSettings | None = None, plan: PlanConfig | None = None) -> FastAPI:
    """The API for a loaded world model (``jepaworld.load``); ``plan``: the default planner (the run's)."""
    settings = settings or ServeSettings()
    server = Server(wm, settings, plan)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server.worker.start()

        async def sweep() -> None:
            while True:
                await asyncio.sleep(max(0.5, min(30.0, server.settings.session_ttl_s / 4)))
                server.sessions.sweep()

        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            server.drain()
            await asyncio.to_thread(server.worker.stop, server.settings.shutdown_timeout_s)

    codes = (400, 401, 404, 409, 413, 422, 429, 503, 504)
    errors: dict[int | str, dict[str, Any]] = {c: {"model": ErrorResponse} for c in codes}
    app = FastAPI(title="jepaworld", version="1", lifespan=lifespan, responses=errors, docs_url=None, redoc_url=None,
                  default_response_class=StrictJSONResponse,
                  description="Plan toward goal images with a JEPA world model: open-loop plans and closed-loop "
                              "sessions. Frames are uint8 (H, W, 3) at the model's resolution, as base64 PNG or raw "
                              "bytes with their shape.")  # fmt: skip
    app.state.server = server
    app.router.route_class = ThreadParsedRoute
    add_docs_page(app)  # /docs from the installed Swagger UI files, no CDN
    settings = server.settings  # with the derived limits
    max_bytes, max_inflight = cast(int, settings.max_body_bytes), cast(int, settings.max_inflight)  # set by Server
    app.add_middleware(BodyLimit, max_bytes=max_bytes)
    app.add_middleware(Gate, auth=server.auth, max_inflight=max_inflight, draining=lambda: server.draining)
    app.add_middleware(MetricsMiddleware, metrics=server.metrics)
    install_handlers(app)

    bearer = HTTPBearer(auto_error=False)

    def authorized(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        server.auth.check(creds.credentials if creds is not None else None)

    auth = [Depends(authorized)]
    add_status_routes(app, server, auth)
    add_planning_routes(app, server, auth)
    return app

