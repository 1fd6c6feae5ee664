"""``jepaworld probe``: linear and MLP probes from frozen embeddings to the state, on held-out episodes."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import progress_bars
from jepaworld.cli.science_options import (
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


def probe_table(report: dict[str, Any]) -> Table:
    """The table of a probe ``results.json`` dict, with the published numbers where SPEC gives them."""
    p = report["protocol"]
    scores = report["scores"]
    published = any(s["published_mlp_r"] is not None for s in scores)
    notes = []
    for s in scores:
        if s["extra"]:
            errs = ", ".join(f"{'MLP' if k.startswith('mlp') else 'linear'} {v:.1f} deg" for k, v in s["extra"].items())
            notes.append(f"{s['quantity']} median angle error: {errs}")
    caption = "\n".join([p["description"], *notes, f"ridge penalty {report['ridge_lambda']:g}"]
                        + (["published: LeWM on Push-T (SPEC, 'Probing')"] if published else []))  # fmt: skip
    t = Table(title=f"{p['env']}: probes from frozen embeddings (Pearson r and MSE on z-scored targets, "
                    f"{p['test_frames']} held-out frames)", caption=caption)  # fmt: skip
    cols = ["quantity", "linear r", "linear MSE", "MLP r", "MLP MSE"]
    if published:
        cols += ["published linear r", "published MLP r"]
    for col in cols:
        t.add_column(col, justify="left" if col == "quantity" else "right")
    for s in scores:
        row = [s["quantity"], fmt(s["linear_r"], 4), fmt(s["linear_mse"], 4), fmt(s["mlp_r"], 4), fmt(s["mlp_mse"], 4)]
        if published:
            row += [fmt(s["published_linear_r"]), fmt(s["published_mlp_r"])]
        t.add_row(*row)
    return t


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
    with user_errors():
        from jepaworld.science import run_probes, write_probes

        model = load_model(run, device, threads)
        folder = out_folder(model, out, "probe")
        with progress_bars() as progress:
            result = run_probes(model, train_frames=train_frames, test_frames=test_frames, mlp_steps=mlp_steps,
                                seed=seed, progress=progress)  # fmt: skip
        write_probes(result, folder)
    console.print(probe_table(result.to_dict()))
    console.print(f"results: {folder}/results.json   plot: {folder}/probes.png")
