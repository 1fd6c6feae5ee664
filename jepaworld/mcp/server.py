"""The MCP server: ``World``'s methods as tools an LLM can call, over stdio or streamable HTTP.

Each tool answers one text block (JSON, its ``summary`` first, in words) plus PNG images where a
frame matters, and the same facts as structured content. A call the caller can fix (a wrong type,
an unknown session or goal, a budget over the limit, a non-image) is answered as an MCP tool error
whose message says what to change; an internal failure is a tool error too. Neither stops the server.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp_types import CallToolResult, ImageContent, TextContent
from pydantic import Field
from starlette.types import ASGIApp, Receive, Scope, Send

from jepaworld.errors import JepaworldError
from jepaworld.hosting import token_matches
from jepaworld.mcp.images import b64
from jepaworld.mcp.world import Answer, World

INSTRUCTIONS = """\
A JEPA world model of a simulated environment, with live sessions of that environment.
Start with `describe` (the entities and their units, the actions, the goals remembered). `start` a
session, `observe` it, `remember_goal` states you want to reach (from a session's frame, or a PNG),
`imagine` what actions would do before taking them, then let the agent drive (`go_to` a named goal)
or act yourself (`step`). `close` sessions you are done with; idle ones expire."""

SessionArg = Annotated[str, Field(description="A session id returned by `start`.", min_length=1, max_length=64)]
Actions = Annotated[list[list[float]], Field(description="Raw env actions, one list of numbers per env step (see "
                                                         "`describe`: action dim, bounds, frameskip).")]


def _result(answer: Answer) -> CallToolResult:
    text = json.dumps(_finite(answer.facts), indent=1, allow_nan=False, default=_json_default)
    images = [ImageContent(type="image", data=b64(png), mime_type="image/png") for png in answer.images]
    return CallToolResult(content=[TextContent(type="text", text=text), *images],
                          structured_content=json.loads(text))  # fmt: skip


def _json_default(x: Any) -> Any:
    if hasattr(x, "tolist"):
        return x.tolist()
    raise TypeError(f"not JSON: {type(x).__name__}")


def create_server(world: World) -> MCPServer:
    """An ``MCPServer`` whose tools act on ``world``."""
    server = MCPServer("jepaworld", instructions=INSTRUCTIONS, log_level="WARNING")

    def call(fn: Callable[..., Answer], *args: Any, **kwargs: Any) -> CallToolResult:
        with world.lock:
            world.sessions.sweep()
            try:
                answer = fn(*args, **kwargs)
            except JepaworldError as e:
                raise ToolError(str(e)) from None
        return _result(answer)

    @server.tool()
    def describe() -> CallToolResult:
        """The environment and its entities (names, fields, units), the actions (dimension, bounds, frameskip),
        the run, the agents available, the goals remembered, the surprise scale, and the server's limits."""
        return call(world.describe)

    @server.tool()
    def start(
        seed: Annotated[int | None, Field(description="Seed of the env's reset (random start without state).")] = None,
        state: Annotated[list[float] | None, Field(description="Place the env in this state (see describe: the "
                                                               "entities' fields in order), e.g. [50, 180].")] = None,
    ) -> CallToolResult:  # fmt: skip
        """Start a live environment session. Returns its id, the frame (PNG), the true state, the entities the
        probe reads from the frame's embedding, and the nearest remembered state (with a memory)."""
        return call(world.start, seed=seed, state=state)

    @server.tool()
    def observe(session: SessionArg) -> CallToolResult:
        """The session's frame now (PNG), its true state, the entities the probe reads from it, and the nearest
        remembered state (with a memory)."""
        return call(world.observe, session)

    @server.tool()
    def remember_goal(
        name: Annotated[str, Field(description="The goal's name: letters, digits, '-', '_' or '.'.", min_length=1,
                                   max_length=64)],
        session: Annotated[str | None, Field(description="Remember this session's frame now (with its true "
                                                         "state).")] = None,
        image: Annotated[str | None, Field(description="Or: base64 of a square PNG of the goal.")] = None,
        replace: Annotated[bool, Field(description="Overwrite a goal of the same name.")] = False,
    ) -> CallToolResult:  # fmt: skip
        """Remember a named goal: a session's current frame, or an image. Goals are kept in the memory file
        (persistent) or, without one, until the server stops."""
        return call(world.remember_goal, name, session=session, image=image, replace=replace)

    @server.tool()
    def list_goals() -> CallToolResult:
        """The goals remembered: name, where each came from, its true state (if known), what the probe reads."""
        return call(world.list_goals)

    @server.tool()
    def forget_goal(name: Annotated[str, Field(description="A goal's name (see list_goals).")]) -> CallToolResult:
        """Forget a remembered goal."""
        return call(world.forget_goal, name)

    @server.tool()
    def imagine(session: SessionArg, actions: Actions) -> CallToolResult:
        """What the world model predicts these actions would do from the session's state, without acting: the
        entities the probe reads after each block (frameskip actions). Give whole blocks. If you then `step` the
        same actions, `step` reports how far reality departs from this imagination (latent error per block)."""
        return call(world.imagine, session, actions)

    @server.tool()
    def go_to(
        session: SessionArg,
        goal: Annotated[str, Field(description="A remembered goal's name (see list_goals).")],
        max_steps: Annotated[int, Field(description="Env steps at most (see describe: limits).")] = 100,
        agent: Annotated[Literal["guarded", "planner"] | None, Field(
            description="guarded: the distilled policy, re-planning when surprised; planner: latent MPC (routed "
                        "through the memory when the server has one). Default: guarded if distilled.")] = None,
    ) -> CallToolResult:  # fmt: skip
        """Drive the session toward a remembered goal with the closed loop until it is reached or max_steps pass.
        Answers reached or not, steps, plans made, surprises met, the final state, and a film strip of the path
        (PNG: frames along the way, then the goal) with the final frame."""
        return call(world.go_to, session, goal, max_steps=max_steps, agent=agent)

    @server.tool()
    def step(session: SessionArg, actions: Actions) -> CallToolResult:
        """Act yourself: execute raw env actions in the session. Answers the new frame (PNG), true state, the
        probe's reading, the surprise of each completed block, and the departure from the last imagination."""
        return call(world.step, session, actions)

    @server.tool()
    def close(session: SessionArg) -> CallToolResult:
        """End a session."""
        return call(world.close_session, session)

    return server


def _finite(x: Any) -> Any:
    """Nested facts with every NaN or infinity as None (JSON has neither; a first frame has no surprise)."""
    if isinstance(x, float):
        return x if math.isfinite(x) else None
    if isinstance(x, dict):
        return {k: _finite(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_finite(v) for v in x]
    return x


class RequireToken:
    """ASGI middleware: 401 for an HTTP request without ``Authorization: Bearer <token>``."""

    def __init__(self, app: ASGIApp, token: str) -> None:
        self.app, self.token = app, token

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
            given = header[7:] if header[:7].lower() == "bearer " else None
            if not token_matches(self.token, given):
                body = json.dumps({"error": "missing or wrong token: send `Authorization: Bearer <token>`"}).encode()
                await send({"type": "http.response.start", "status": 401,
                            "headers": [(b"content-type", b"application/json"), (b"www-authenticate", b"Bearer"),
                                        (b"content-length", str(len(body)).encode())]})  # fmt: skip
                await send({"type": "http.response.body", "body": body})
                return
        await self.app(scope, receive, send)


def http_app(server: MCPServer, host: str, token: str | None, path: str = "/mcp") -> ASGIApp:
    """The streamable-HTTP app (DNS-rebinding protection on loopback), behind the token when one is set."""
    app = server.streamable_http_app(streamable_http_path=path, host=host)
    return RequireToken(app, token) if token else app
