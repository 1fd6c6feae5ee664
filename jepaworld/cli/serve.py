"""``jepaworld serve RUN``: the world model behind an HTTP API (FastAPI + uvicorn, ``serve`` extra)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import UserError, user_errors
from jepaworld.cli.science_options import DeviceOpt, RunArg, ThreadsOpt, load_model
from jepaworld.cli.train import SetOpt

console = Console(stderr=True)


def _positive(name: str, value: float, minimum: float = 1) -> None:
    if value < minimum:
        raise UserError(f"--{name} must be >= {minimum:g}, got {value:g}")


def serve_cmd(
    run: RunArg,
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs a token.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port (0: any free port).")] = 8000,
    token_file: Annotated[
        str | None, typer.Option(help="File holding the bearer token (default: $JEPAWORLD_TOKEN; none: no auth).")
    ] = None,
    preset: Annotated[str | None, typer.Option(help="Default planner preset from configs/plan/.")] = None,
    window_ms: Annotated[float, typer.Option(help="Wait this long for more requests to plan together.")] = 5.0,
    max_batch: Annotated[int, typer.Option(help="Environments planned in one call (1: no batching).")] = 64,
    queue_size: Annotated[int, typer.Option(help="Requests waiting to be planned; beyond: 503 + Retry-After.")] = 256,
    timeout: Annotated[float, typer.Option(help="Seconds a request may wait and plan before a 504.")] = 30.0,
    session_ttl: Annotated[float, typer.Option(help="Seconds before an idle session expires.")] = 300.0,
    max_sessions: Annotated[int, typer.Option(help="Open sessions at most.")] = 1024,
    max_sessions_per_client: Annotated[
        int | None, typer.Option(help="Open sessions one client address may hold (default: max-sessions / 8).")
    ] = None,
    max_body_mb: Annotated[
        float | None, typer.Option(help="Largest request body, MiB (default: max-frames raw frames and goals).")
    ] = None,
    request_timeout: Annotated[
        float, typer.Option(help="Seconds a request's headers and body may take to arrive; idle connections close.")
    ] = 10.0,
    max_frames: Annotated[int, typer.Option(help="Frames in one /v1/plan request.")] = 64,
    max_plan_work: Annotated[
        int | None, typer.Option(help="Planner budget per env a request may ask (samples x iterations x horizon).")
    ] = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
    log_level: Annotated[str, typer.Option(help="uvicorn log level: warning | info | debug.")] = "info",
    set_: SetOpt = None,
) -> None:
    """Serve RUN over HTTP: open-loop plans, closed-loop sessions, health, model info, metrics (/docs)."""
    with user_errors():
        try:
            import uvicorn  # noqa: F401

            from jepaworld.serve import ServeSettings, check_bind, create_app, load_token
            from jepaworld.serve.protocol import uvicorn_server
        except ImportError as e:
            raise UserError(f"`jepaworld serve` needs the serve extra ({e.name} is missing): "
                            "pip install 'jepaworld[serve]'") from None  # fmt: skip
        from jepaworld.config import parse_overrides, update, validate
        from jepaworld.config.planners import apply_planner_preset

        token = load_token(token_file)
        check_bind(host, token)
        for name, value, low in (("max-batch", max_batch, 1), ("queue-size", queue_size, 1),
                                 ("max-sessions", max_sessions, 1), ("max-frames", max_frames, 1),
                                 ("timeout", timeout, 0.001), ("session-ttl", session_ttl, 0.001),
                                 ("window-ms", window_ms, 0), ("request-timeout", request_timeout, 0.001),
                                 ("max-body-mb", max_body_mb, 0.001),
                                 ("max-sessions-per-client", max_sessions_per_client, 1)):  # fmt: skip
            if value is not None:
                _positive(name, value, low)
        if not 0 <= port <= 65535:
            raise UserError(f"--port must be in [0, 65535], got {port}")
        if log_level not in ("critical", "error", "warning", "info", "debug"):
            raise UserError(f"--log-level must be one of critical, error, warning, info, debug; got {log_level!r}")
        model = load_model(run, device, threads)
        cfg = model.config
        cfg.plan = apply_planner_preset(cfg.plan, preset)
        update(cfg, parse_overrides(set_), source="--set")
        validate(cfg.plan)
        settings = ServeSettings(
            token=token, window_ms=window_ms, max_batch=max_batch, queue_size=queue_size, timeout_s=timeout,
            session_ttl_s=session_ttl, max_sessions=max_sessions, max_sessions_per_client=max_sessions_per_client,
            max_body_bytes=int(max_body_mb * 2**20) if max_body_mb else None, max_frames=max_frames,
            max_plan_work=max_plan_work, request_timeout_s=request_timeout,
        )  # fmt: skip
        app = create_app(model, settings, cfg.plan)
        shown = f"[{host}]" if ":" in host else host
        console.print(f"serving {run} ({model.meta.env}, {model.meta.resolution} px) on http://{shown}:{port} "
                      f"- API: /docs - auth: {'bearer token' if token else 'none (loopback only)'}\n"
                      f"planner: {cfg.plan.describe()}", highlight=False)  # fmt: skip
        uvicorn_server(app, host, port, log_level).run()
