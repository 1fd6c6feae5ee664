"""``jepaworld mcp RUN``: the world model as tools for an LLM agent (Model Context Protocol, ``mcp`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import UserError, user_errors
from jepaworld.cli.science_options import DeviceOpt, RunArg, ThreadsOpt, load_model
from jepaworld.cli.train import SetOpt

console = Console(stderr=True)  # stdout is the protocol's channel under stdio


def mcp_cmd(
    run: RunArg,
    memory: Annotated[str | None, typer.Option(help="Memory file (`jepaworld memory build`): persistent goals, "
                                                    "nearest remembered states, go_to routes.")] = None,  # fmt: skip
    env: Annotated[str | None, typer.Option(help="Env the sessions run (default: the run's).")] = None,
    http: Annotated[bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")] = False,
    host: Annotated[str, typer.Option(help="--http: address to bind; anything but loopback needs a token.")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="--http: TCP port.")] = 8765,
    path: Annotated[str, typer.Option(help="--http: the endpoint's path.")] = "/mcp",
    token_file: Annotated[
        str | None, typer.Option(help="--http: file holding the bearer token (default: $JEPAWORLD_TOKEN; none: no "
                                      "auth, loopback only).")  # fmt: skip
    ] = None,
    preset: Annotated[str | None, typer.Option(help="Planner preset from configs/plan/ (default: the run's).")] = None,
    max_sessions: Annotated[int, typer.Option(help="Live sessions at most.")] = 8,
    session_ttl: Annotated[float, typer.Option(help="Seconds before an idle session expires.")] = 900.0,
    max_steps: Annotated[int, typer.Option(help="go_to's step budget at most.")] = 1000,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
    set_: SetOpt = None,
) -> None:
    """Serve RUN as MCP tools (describe, start, observe, remember_goal, list_goals, forget_goal, imagine, go_to,
    step, close) over stdio, or streamable HTTP with --http."""
    with user_errors():
        from jepaworld.hosting import check_bind, load_token

        for name, value, low in (("max-sessions", max_sessions, 1), ("session-ttl", session_ttl, 0.001),
                                 ("max-steps", max_steps, 1)):  # fmt: skip
            if value < low:
                raise UserError(f"--{name} must be >= {low:g}, got {value:g}")
        token = None
        if http:
            if not 1 <= port <= 65535:
                raise UserError(f"--port must be in [1, 65535], got {port}")
            if not path.startswith("/"):
                raise UserError(f"--path must start with '/', got {path!r}")
            token = load_token(token_file)
            check_bind(host, token)
        try:
            import uvicorn

            from jepaworld.mcp import World, WorldSettings, create_server, http_app
        except ImportError as e:
            raise UserError(f"`jepaworld mcp` needs the mcp extra ({e.name} is missing): "
                            "pip install 'jepaworld[mcp]'") from None  # fmt: skip
        from jepaworld.config import parse_overrides, update, validate
        from jepaworld.config.planners import apply_planner_preset

        model = load_model(run, device, threads)
        cfg = model.config
        cfg.plan = apply_planner_preset(cfg.plan, preset)
        update(cfg, parse_overrides(set_), source="--set")
        validate(cfg.plan)
        world = World(model, WorldSettings(memory=memory, env=env, max_sessions=max_sessions,
                                           session_ttl_s=session_ttl, max_steps=max_steps))  # fmt: skip
        server = create_server(world)
        where = f"http://{f'[{host}]' if ':' in host else host}:{port}{path}" if http else "stdio"
        console.print(f"jepaworld mcp: {run} ({world.env_name}, {model.meta.resolution} px) on {where}; planner: "
                      f"{cfg.plan.describe()}; entity probe: {world.decoder_source}", highlight=False)  # fmt: skip
        try:
            if http:
                uvicorn.run(http_app(server, host, token, path), host=host, port=port, log_level="warning",
                            server_header=False)  # fmt: skip
            else:
                server.run("stdio")
        finally:
            world.close()
