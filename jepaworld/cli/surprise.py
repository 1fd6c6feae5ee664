"""``jepaworld surprise``: violation of expectation — surprise at a teleport or a colour change vs unperturbed."""

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

PUBLISHED = ("published (LeWM, SPEC): teleporting the agent or block raises surprise significantly (paired t-test, "
             "p < 0.01) in Two-Room, Push-T and Cube; colour changes raise it less")  # fmt: skip


def surprise_table(report: dict[str, Any]) -> Table:
    """The table of a surprise ``results.json`` dict, the protocol under it."""
    p = report["protocol"]
    k = report["event_step"]
    caption = "\n".join([
        p["description"],
        f"control: AUROC of frame {k} within the unperturbed trajectories {fmt(report['control_auroc'])} (0.5 = none)",
        PUBLISHED,
    ])  # fmt: skip
    t = Table(title=f"{p['env']}: violation of expectation at frame {k} ({p['trajectories']} matched trajectories)",
              caption=caption)  # fmt: skip
    for col in ("perturbation", f"surprise at frame {k}", "unperturbed", "ratio", "paired t", "p (two-sided)",
                "Cohen's d", "AUROC"):  # fmt: skip
        t.add_column(col, justify="left" if col == "perturbation" else "right")
    what = {"teleport": f"teleport ({p['teleported']})", "recolour": "recolour (RGB -> BGR)"}
    for s in report["stats"]:
        t.add_row(what.get(s["kind"], s["kind"]), fmt(s["event_mean"]), fmt(s["control_mean"]), fmt(s["ratio"], 1),
                  fmt(s["t"], 2), fmt(s["p_two_sided"]), fmt(s["cohens_d"], 2), fmt(s["auroc"]))  # fmt: skip
    return t


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
    with user_errors():
        from jepaworld.science import surprise_test, write_surprise

        model = load_model(run, device, threads)
        folder = out_folder(model, out, "surprise")
        with progress_bars() as progress:
            result = surprise_test(model, episodes=episodes, frames=frames, event_step=event_step, actions=actions,
                                   seed=seed, data_path=data, progress=progress)  # fmt: skip
        write_surprise(result, folder)
    console.print(surprise_table(result.to_dict()))
    console.print(f"results: {folder}/results.json   plot: {folder}/surprise.png")
