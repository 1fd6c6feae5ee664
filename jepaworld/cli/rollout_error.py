"""``jepaworld rollout-error``: open-loop latent prediction error vs horizon, beside copy-last and linear baselines."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jepaworld.cli.science_options import DataOpt, DeviceOpt, OutOpt, Progress, RunArg, SeedOpt, ThreadsOpt, run_science


def rollout_error_cmd(
    run: RunArg,
    episodes: Annotated[int, typer.Option(help="Held-out episodes to draw windows from.")] = 50,
    horizon: Annotated[int, typer.Option(help="Longest open-loop horizon, in action blocks.")] = 16,
    windows: Annotated[int, typer.Option(help="Windows (start points) to roll out.")] = 256,
    seed: SeedOpt = 0,
    data: DataOpt = None,
    out: OutOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Open-loop latent prediction error vs horizon on held-out episodes, beside copy-last and linear baselines."""
    from jepaworld.science import rollout_error, write_rollout_error

    def measure(model: Any, progress: Progress) -> Any:
        return rollout_error(model, episodes=episodes, horizon=horizon, windows=windows,
                             seed=seed, data_path=data, progress=progress)  # fmt: skip

    run_science("rollout-error", run, out, device, threads, measure, write_rollout_error)
