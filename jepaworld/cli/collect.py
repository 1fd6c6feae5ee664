"""``jepaworld collect``: gather episodes into an HDF5 file, resumably, with a progress bar."""

from __future__ import annotations

import time
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import LogProgress
from jepaworld.config import DataConfig

console = Console()


def collect(
    env: str | None = typer.Option(
        None, help="tworoom, or gymnasium:ID for any Gymnasium env that renders RGB."
    ),
    episodes: int | None = typer.Option(None, help="Episodes to collect."),
    out: Path | None = typer.Option(None, help="Output HDF5 file (default: data.path)."),
    workers: int | None = typer.Option(None, help="Worker processes."),
    seed: int | None = typer.Option(None, help="Episode i is seeded from (seed, i)."),
    resolution: int | None = typer.Option(None, help="Square frame size in pixels."),
    max_steps: int | None = typer.Option(None, "--max-steps", help="Env steps per episode at most."),
    noise: float | None = typer.Option(None, help="Expert action noise (std, action units)."),
    policy: str | None = typer.Option(None, help="expert, random, or module:function (fn(obs, state, rng))."),
    overwrite: bool = typer.Option(False, help="Replace an existing output and any unfinished collection."),
    config: str | None = typer.Option(None, "--config", help="Preset name (cpu, paper) or YAML path."),
    set_: list[str] | None = typer.Option(None, "--set", help="Override: section.key=value (repeatable)."),
) -> None:
    """Collect episodes (pixels, actions, states) with a scripted policy. Rerun to resume."""
    with user_errors():
        from jepaworld.config import load_config, validate

        cfg = load_config(config, set_).data
        explicit = dict(
            env=env,
            episodes=episodes,
            workers=workers,
            seed=seed,
            resolution=resolution,
            max_steps=max_steps,
            noise=noise,
            policy=policy,
        )
        for key, value in explicit.items():
            if value is not None:
                setattr(cfg, key, value)
        if out is not None:
            cfg.path = str(out)
        validate(cfg)
        run_collect(cfg, overwrite)


def run_collect(cfg: DataConfig, overwrite: bool = False) -> None:
    """Collect ``cfg.episodes`` into ``cfg.path`` with a progress bar (resumes unfinished work)."""
    from jepaworld.data.collect import collect as collect_episodes
    from jepaworld.data.collect import parts_dir, preflight

    path = Path(cfg.path)
    preflight(cfg, path, overwrite)
    start = time.perf_counter()
    columns = [
        TextColumn("[bold]collect"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("episodes"),
        TextColumn("{task.fields[rate]}"),
        TimeRemainingColumn(),
    ]
    first: list[tuple[int, int, float]] = []
    try:
        with LogProgress(*columns, console=console) as bar:
            task = bar.add_task("collect", total=cfg.episodes, rate="")

            def progress(eps: int, frames: int) -> None:
                now = time.perf_counter()
                if not first:
                    first.append((eps, frames, now))  # resumed episodes do not count toward rates
                e0, f0, t0 = first[0]
                dt = max(now - t0, 1e-9)
                rate = (
                    f"{(eps - e0) / dt:.1f} episodes/s {(frames - f0) / dt:,.0f} frames/s"
                    if eps > e0
                    else ""
                )
                bar.update(task, completed=eps, rate=rate)

            result = collect_episodes(cfg, path, overwrite=overwrite, progress=progress)
    except KeyboardInterrupt:
        console.print(
            f"[yellow]interrupted[/]: finished episodes are kept in {parts_dir(path)}; "
            "run the same command again to resume."
        )
        raise typer.Exit(130) from None
    wall = time.perf_counter() - start
    resumed = f" ({first[0][0]:,} resumed)" if first and first[0][0] else ""
    new_frames = result.frames - (first[0][1] if first else 0)
    console.print(
        f"wrote [bold]{result.path}[/]: {result.episodes:,} episodes{resumed}, {result.frames:,} frames, "
        f"{result.bytes / 1e6:.1f} MB in {wall:.1f} s ({new_frames / wall:,.0f} frames/s collected)",
        soft_wrap=not console.is_terminal,  # one line in a log
    )
