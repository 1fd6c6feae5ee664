"""``jepaworld structure``: PCA of held-out embeddings coloured by the state; temporal straightening."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from jepaworld.cli.science_options import DataOpt, DeviceOpt, OutOpt, Progress, RunArg, SeedOpt, ThreadsOpt, run_science


def structure_cmd(
    run: RunArg,
    episodes: Annotated[int, typer.Option(help="Held-out episodes (one trajectory each).")] = 50,
    frames: Annotated[int, typer.Option(help="Frames per trajectory (frameskip env steps apart).")] = 32,
    untrained: Annotated[bool, typer.Option(help="Also measure an untrained encoder of the same config.")] = True,
    seed: SeedOpt = 0,
    data: DataOpt = None,
    out: OutOpt = None,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """PCA of held-out embeddings coloured by the true state; curvature of latent vs pixel trajectories."""
    from jepaworld.science.structure import latent_structure, write_structure

    def measure(model: Any, progress: Progress) -> Any:
        return latent_structure(model, episodes=episodes, frames=frames, untrained=untrained,
                                seed=seed, data_path=data, progress=progress)  # fmt: skip

    run_science("structure", run, out, device, threads, measure, write_structure)
