"""``jepaworld rollout-error``: open-loop latent prediction error vs horizon, beside copy-last and linear baselines."""

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


def rollout_error_table(report: dict[str, Any]) -> Table:
    """The table of a rollout-error ``results.json`` dict: error per horizon, the protocol under it."""
    p = report["protocol"]
    t = Table(title=f"{p['env']}: open-loop latent prediction error (MSE / mean variance of z), held-out",
              caption=f"{p['description']}\nworld model: {report['verdict']}")  # fmt: skip
    names = list(report["errors"])
    for col in ("horizon", *names, "model / best baseline"):
        t.add_column(col, justify="right")
    for i, k in enumerate(report["horizons"]):
        row = [report["errors"][n][i] for n in names]
        best = min(report["errors"][n][i] for n in names if n != "world model")
        t.add_row(str(k), *(fmt(v, 4) for v in row), fmt(report["errors"]["world model"][i] / best, 4))
    return t


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
    with user_errors():
        from jepaworld.science import rollout_error, write_rollout_error

        model = load_model(run, device, threads)
        folder = out_folder(model, out, "rollout-error")
        with progress_bars() as progress:
            result = rollout_error(model, episodes=episodes, horizon=horizon, windows=windows, seed=seed,
                                   data_path=data, progress=progress)  # fmt: skip
        write_rollout_error(result, folder)
    console.print(rollout_error_table(result.to_dict()))
    console.print(f"results: {folder}/results.json   plot: {folder}/rollout_error.png")
