"""``jepaworld structure``: PCA of held-out embeddings coloured by the state; temporal straightening."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import progress_bars
from jepaworld.cli.science_options import (
    DataOpt,
    DeviceOpt,
    OutOpt,
    RunArg,
    SeedOpt,
    ThreadsOpt,
    fmt,
    load_model,
    out_folder,
)  # fmt: skip

console = Console()


def structure_table(report: dict[str, Any]) -> Table:
    """The table of a structure ``results.json`` dict: curvature per space, the protocol under it."""
    p = report["protocol"]
    ev = report["pca"]["explained_variance_ratio"]
    r2 = ", ".join(f"{k} {v:.2f}" for k, v in report["pca"].get("state_r2", {}).items())
    caption = (f"{p['description']}\nPCA: PC1 {100 * ev[0]:.1f}%, PC2 {100 * ev[1]:.1f}% of the embedding variance; "
               f"R^2 of the state from the two: {r2}\nskipped: triples where a displacement is zero")  # fmt: skip
    t = Table(title=f"{p['env']}: temporal straightening along held-out trajectories (0 deg = straight)",
              caption=caption)  # fmt: skip
    for col in ("space", "curvature (mean angle, deg)", "median (deg)", "mean cos", "triples", "skipped"):
        t.add_column(col, justify="left" if col == "space" else "right")
    for name, s in report["straightening"].items():
        t.add_row(name, fmt(s["curvature_deg"], 1), fmt(s["median_deg"], 1), fmt(s["mean_cos"], 3), str(s["triples"]),
                  str(s["skipped"]))  # fmt: skip
    return t


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
    with user_errors():
        from jepaworld.science.structure import latent_structure, write_structure

        model = load_model(run, device, threads)
        folder = out_folder(model, out, "structure")
        with progress_bars() as progress:
            result = latent_structure(model, episodes=episodes, frames=frames, untrained=untrained, seed=seed,
                                      data_path=data, progress=progress)  # fmt: skip
        write_structure(result, folder)
    console.print(structure_table(result.to_dict()))
    console.print(f"results: {folder}/results.json   plots: {folder}/pca.png, {folder}/straightening.png")
