"""The status routes: ``GET /v1/health`` (no token), ``GET /v1/model``, ``GET /metrics`` (Prometheus text)."""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations

from typing import Any

from fastapi import FastAPI
from fastapi.params import Depends
from fastapi.responses import PlainTextResponse

from jepaworld.serve.http_layer import StrictJSONResponse
from jepaworld.serve.server import Server


def add_status_routes(app: FastAPI, server: Server, auth: list[Depends]) -> None:
    """Health, the model's description and the metrics on ``app``; ``auth``: the token dependency."""

    @app.get("/v1/health", tags=["status"])
    async def health() -> StrictJSONResponse:
        """Liveness, without a token: 200 while the planning thread runs, else 503."""
        up = server.worker.alive
        return StrictJSONResponse({"status": "ok" if up else "planning thread stopped",
                                   "queue_depth": server.worker.depth(), "sessions": len(server.sessions)},
                                  200 if up else 503)  # fmt: skip

    @app.get("/v1/model", tags=["status"], dependencies=auth)
    async def model() -> dict[str, Any]:
        """The env, frame size, action dims and bounds, frame-skip, the default planner and the limits."""
        return server.model_info()

    @app.get("/metrics", tags=["status"], dependencies=auth, response_class=PlainTextResponse)
    async def metrics() -> PlainTextResponse:
        """Prometheus text format: requests, latencies, queue depth, batch sizes, plan times."""
        server.sessions.sweep()
        return PlainTextResponse(server.metrics.render(), media_type="text/plain; version=0.0.4")
