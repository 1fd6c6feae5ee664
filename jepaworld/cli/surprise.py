"""``jepaworld surprise``: violation of expectation — surprise at a teleport or a colour change vs unperturbed."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jepaworld.cli.science_options import DataOpt, DeviceOpt, OutOpt, Progress, RunArg, SeedOpt, ThreadsOpt, run_science


def surprise_cmd(
    run: RunArg,
    episodes: Annotated[int, typer.Option(help="Held-out episodes (one matched trajectory triple each).")] = 50,
    frames: Annotated[int, typer.Option(help="Frames per trajectory (frameskip env steps apart).")] = 12,
    event_step: Annotated[int, typer.Option(help="Frame at which the teleport / recolouring happens.")] = 6,
    actions: Annotated[str, typer.Option(help="recorded (the episode's own actions) | random")] = "recorded",
    seed: SeedOpt = 0,
    data: DataOpt = None,
    out: OutOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Surprise at a teleport or a colour change vs the same step unperturbed (t-test, Cohen's d, AUROC)."""
    from jepaworld.science import surprise_test, write_surprise

    def measure(model: Any, progress: Progress) -> Any:
        return surprise_test(model, episodes=episodes, frames=frames, event_step=event_step, actions=actions,
                             seed=seed, data_path=data, progress=progress)  # fmt: skip

    run_science("surprise", run, out, device, threads, measure, write_surprise)
