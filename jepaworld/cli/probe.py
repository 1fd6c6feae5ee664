"""``jepaworld probe``: linear and MLP probes from frozen embeddings to the state, on held-out episodes."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jepaworld.cli.science_options import DeviceOpt, OutOpt, Progress, RunArg, SeedOpt, ThreadsOpt, run_science


def probe_cmd(
    run: RunArg,
    train_frames: Annotated[int, typer.Option(help="Random frames of training episodes to fit on.")] = 4000,
    test_frames: Annotated[int, typer.Option(help="Random frames of held-out episodes to score on.")] = 2000,
    mlp_steps: Annotated[int, typer.Option(help="Adam steps of the MLP probe.")] = 400,
    seed: SeedOpt = 0,
    out: OutOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Linear and MLP probes from frozen embeddings to the state (fit on training, scored on held-out episodes)."""
    from jepaworld.science import run_probes, write_probes

    def measure(model: Any, progress: Progress) -> Any:
        return run_probes(model, train_frames=train_frames, test_frames=test_frames, mlp_steps=mlp_steps, seed=seed,
                          progress=progress)  # fmt: skip

    run_science("probe", run, out, device, threads, measure, write_probes)
