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
"""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations, some of them local names

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from concurrent.futures import Future
from dataclasses import asdict, astuple, dataclass, replace
from typing import Annotated, Any

import numpy as np
from fastapi import Depends, FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi.routing import APIRoute
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from jepaworld.config import PlanConfig, json_text, validate
from jepaworld.errors import JepaworldError
from jepaworld.plan.registry import get_planner
from jepaworld.serve.batching import BatchWorker, Job, QueueFull, Step
from jepaworld.serve.docs_page import add_docs_page
from jepaworld.serve.errors import ApiError
from jepaworld.serve.images import decode_images
from jepaworld.serve.metrics import Metrics
from jepaworld.serve.schemas import (
    ActRequest,
    ActResponse,
    ErrorResponse,
    PlannerSettings,
    PlanRequest,
    PlanResponse,
    SessionRequest,
    SessionResponse,
)
from jepaworld.serve.security import BearerAuth, BodyLimit, Gate
from jepaworld.serve.sessions import Session, SessionStore

log = logging.getLogger(__name__)

PUBLISHED_WORK = 300 * 30 * 5  # samples x iterations x horizon of the published planner
SESSION_ID = r"^[A-Za-z0-9_-]{1,64}$"
METHODS = {"GET", "POST", "DELETE", "PUT", "PATCH", "HEAD", "OPTIONS"}


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


class Server:
    """What the routes share: the model, the default planner, the planning thread and the sessions."""

    def __init__(self, wm: Any, settings: ServeSettings, plan_cfg: PlanConfig | None) -> None:
        from jepaworld.envs import get_spec

        self.wm = wm
        self.meta = wm.meta
        settings = replace(
            settings,
            max_body_bytes=settings.max_body_bytes or body_limit(self.meta.resolution, settings.max_frames),
            max_sessions_per_client=settings.max_sessions_per_client or max(1, settings.max_sessions // 8),
            max_inflight=settings.max_inflight or 2 * settings.queue_size + 64,
        )  # fmt: skip
        self.settings = settings
        self.spec = get_spec(self.meta.env)
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
            "action_low": np.asarray(self.spec.action_low, dtype=float).tolist(),
            "action_high": np.asarray(self.spec.action_high, dtype=float).tolist(),
            "frameskip": meta.frameskip, "history": meta.history, "step": getattr(meta, "step", None),
            "planner": self.default_cfg.describe(), "planner_settings": asdict(self.default_cfg),
            "planner_fields": sorted(PlannerSettings.model_fields),
            "limits": {"max_plan_work": self.max_work, "max_frames": s.max_frames, "max_body_bytes": s.max_body_bytes,
                       "timeout_s": s.timeout_s, "session_ttl_s": s.session_ttl_s, "max_sessions": s.max_sessions,
                       "max_sessions_per_client": s.max_sessions_per_client,
                       "request_timeout_s": s.request_timeout_s, "max_inflight": s.max_inflight},
            "batching": {"window_ms": s.window_ms, "max_batch": s.max_batch, "queue_size": s.queue_size},
        }  # fmt: skip


class StrictJSONResponse(JSONResponse):
    """Every answer is standard JSON: a non-finite number (a NaN cost) is null, never a bare NaN or a 500."""

    def render(self, content: Any) -> bytes:
        return json_text(content).encode()


class ShuttingDown(Exception):
    """A queued job dropped because the server is shutting down."""


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


def _issue(err: dict[str, Any]) -> str:
    loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body" and not str(p).startswith("function-"))
    msg = err.get("msg", "invalid")
    if err.get("type") == "extra_forbidden":
        msg = "unknown field"
    return f"{loc}: {msg}" if loc else msg


def _install_handlers(app: FastAPI) -> None:
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


def create_app(wm: Any, settings: ServeSettings | None = None, plan: PlanConfig | None = None) -> FastAPI:
    """The API for a loaded world model (``jepaworld.load``); ``plan``: the default planner (the run's)."""
    settings = settings or ServeSettings()
    server = Server(wm, settings, plan)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        server.worker.start()

        async def sweep() -> None:
            while True:
                await asyncio.sleep(max(0.5, min(30.0, settings.session_ttl_s / 4)))
                server.sessions.sweep()

        sweeper = asyncio.create_task(sweep())
        try:
            yield
        finally:
            sweeper.cancel()
            server.drain()
            await asyncio.to_thread(server.worker.stop, settings.shutdown_timeout_s)

    errors = {c: {"model": ErrorResponse} for c in (400, 401, 404, 409, 413, 422, 429, 503, 504)}
    app = FastAPI(title="jepaworld", version="1", lifespan=lifespan, responses=errors, docs_url=None, redoc_url=None,
                  default_response_class=StrictJSONResponse,
                  description="Plan toward goal images with a JEPA world model: open-loop plans and closed-loop "
                              "sessions. Frames are uint8 (H, W, 3) at the model's resolution, as base64 PNG or raw "
                              "bytes with their shape.")  # fmt: skip
    app.state.server = server
    app.router.route_class = ThreadParsedRoute
    add_docs_page(app)  # /docs from the installed Swagger UI files, no CDN
    settings = server.settings  # with the derived limits
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(Gate, auth=server.auth, max_inflight=settings.max_inflight, draining=lambda: server.draining)
    app.add_middleware(MetricsMiddleware, metrics=server.metrics)
    _install_handlers(app)

    bearer = HTTPBearer(auto_error=False)

    def authorized(creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> None:
        server.auth.check(creds.credentials if creds is not None else None)

    auth = [Depends(authorized)]
    SessionId = Annotated[str, Path(pattern=SESSION_ID, description="the id POST /v1/sessions returned")]
    fs = server.meta.frameskip

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

    @app.post("/v1/plan", tags=["plan"], dependencies=auth, response_model=PlanResponse)
    async def plan(req: PlanRequest) -> PlanResponse:
        """Open-loop plans from frame(s) toward goal(s): raw actions (N, horizon * frameskip, A)."""
        cfg = server.plan_config(req.planner)
        obs = server.frames(req.obs, "obs", settings.max_frames)
        goal = server.frames(req.goal, "goal", settings.max_frames)
        if len(goal) not in (1, len(obs)):
            raise ApiError(422, f"goal: {len(goal)} goal images for {len(obs)} frames; give one goal, or one per frame")
        if len(goal) == 1 and len(obs) > 1:
            goal = np.repeat(goal, len(obs), axis=0)
        if len(obs) > settings.max_batch:
            raise ApiError(422, f"obs: {len(obs)} frames; this server plans at most {settings.max_batch} at once")
        ctrl = server.wm.mpc(cfg, seed=req.seed)
        step = await server.run(Job(key=astuple(cfg), controller=ctrl, frame=obs, goal=goal))
        return PlanResponse(
            actions=step.plan.tolist(), blocks=cfg.horizon, frameskip=fs,
            cost=None if step.cost is None else [float(c) for c in step.cost],
            plan_time_s=float(step.plan_time_s or 0.0), batch_size=step.rows, planner=cfg.describe(),
        )  # fmt: skip

    @app.post("/v1/sessions", tags=["sessions"], dependencies=auth, response_model=SessionResponse, status_code=201)
    async def create_session(req: SessionRequest, request: Request) -> SessionResponse:
        """Start a closed-loop episode toward a goal image; send frames to /v1/sessions/{id}/act.

        Each client address may hold at most `limits.max_sessions_per_client` sessions (GET /v1/model)."""
        cfg = server.plan_config(req.planner)
        goal = server.frames(req.goal, "goal", 1)[0]
        client = request.client.host if request.client else ""
        if server.sessions.full():
            server.metrics.reject("sessions_full")
            raise ApiError(429, f"{settings.max_sessions} sessions are open; DELETE finished ones (idle ones expire "
                                f"after {settings.session_ttl_s:g} s)", headers={"Retry-After": "5"})  # fmt: skip
        if server.per_client.get(client, 0) >= settings.max_sessions_per_client:
            server.metrics.reject("client_sessions_full")
            raise ApiError(429, f"this client ({client}) holds {settings.max_sessions_per_client} sessions, the most "
                                "one client may; DELETE finished ones (idle ones expire after "
                                f"{settings.session_ttl_s:g} s)", headers={"Retry-After": "5"})  # fmt: skip
        ctrl = server.wm.mpc(cfg, seed=req.seed)
        server.per_client[client] = server.per_client.get(client, 0) + 1  # held while the reset is planned
        try:
            await server.run(Job(key=astuple(cfg), controller=ctrl, goal=goal))
        except BaseException:
            server.release(client)
            raise
        session = Session(id=server.sessions.new_id(), controller=ctrl, cfg=cfg, key=astuple(cfg), last_used=0.0,
                          client=client)  # fmt: skip
        server.sessions.add(session)
        return SessionResponse(id=session.id, ttl_s=settings.session_ttl_s, planner=cfg.describe(), frameskip=fs,
                               action_dim=server.meta.action_dim)  # fmt: skip

    @app.post("/v1/sessions/{session_id}/act", tags=["sessions"], dependencies=auth, response_model=ActResponse)
    async def act(session_id: SessionId, req: ActRequest) -> ActResponse:
        """The frame now -> the next block of raw actions (frameskip, A); re-plans every `receding` blocks."""
        session = server.sessions.get(session_id)
        if session is None:
            raise ApiError(404, f"no session {session_id}: it was deleted, or expired after "
                                f"{settings.session_ttl_s:g} s idle; POST /v1/sessions for a new one")  # fmt: skip
        if session.broken:
            raise ApiError(409, f"session {session_id} stopped: {session.broken}; start a new session")
        frame = server.frames(req.obs, "obs", 1)[0]
        if session.busy:
            raise ApiError(409, f"session {session_id} is already planning a frame; send the next frame after its "
                                "answer (one request per session at a time)")  # fmt: skip
        session.busy = True
        try:
            step = await server.run(Job(key=session.key, controller=session.controller, frame=frame), session)
        finally:
            session.busy = False
            session.last_used = server.sessions.clock()
        session.steps += 1
        return ActResponse(
            actions=step.block.tolist(), replanned=step.replanned,
            cost=None if step.cost is None else float(step.cost[0]), plan_time_s=step.plan_time_s,
            step=session.steps, plans=step.plans, batch_size=step.rows,
        )  # fmt: skip

    @app.delete("/v1/sessions/{session_id}", tags=["sessions"], dependencies=auth, status_code=204)
    async def delete_session(session_id: SessionId) -> None:
        """End a session (a request in flight still gets its answer)."""
        if not server.sessions.remove(session_id):
            raise ApiError(404, f"no session {session_id} (deleted already, or expired)")

    return app
