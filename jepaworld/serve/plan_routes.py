"""The planning routes: ``POST /v1/plan`` (open-loop plans) and the closed-loop sessions
(``POST /v1/sessions``, ``POST /v1/sessions/{id}/act``, ``DELETE /v1/sessions/{id}``)."""

# no `from __future__ import annotations`: FastAPI reads the routes' annotations

from dataclasses import astuple
from typing import Annotated, cast

import numpy as np
from fastapi import FastAPI, Path, Request
from fastapi.params import Depends

from jepaworld.serve.batching import Job
from jepaworld.serve.errors import ApiError
from jepaworld.serve.schemas import (
    ActRequest,
    ActResponse,
    PlanRequest,
    PlanResponse,
    SessionRequest,
    SessionResponse,
)
from jepaworld.serve.server import Server
from jepaworld.serve.sessions import Session

SESSION_ID = r"^[A-Za-z0-9_-]{1,64}$"
SessionId = Annotated[str, Path(pattern=SESSION_ID, description="the id POST /v1/sessions returned")]


def add_planning_routes(app: FastAPI, server: Server, auth: list[Depends]) -> None:
    """Open-loop plans and closed-loop sessions on ``app``; ``auth``: the token dependency."""
    settings = server.settings  # with the derived limits
    fs = server.meta.frameskip
    per_client_cap = cast(int, settings.max_sessions_per_client)  # set by Server

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
        assert step.plan is not None  # a job with a frame acts, so it has a plan
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
        if server.per_client.get(client, 0) >= per_client_cap:
            server.metrics.reject("client_sessions_full")
            raise ApiError(429, f"this client ({client}) holds {per_client_cap} sessions, the most "
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
        assert step.block is not None  # a job with a frame acts, so it has a block
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
