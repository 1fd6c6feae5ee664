"""``jepaworld train``: train a world model from an episode file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import make_progress
from jepaworld.config import Config, load_config

console = Console()

ConfigOpt = Annotated[str, typer.Option("--config", "-c", help="Preset name (cpu, paper) or YAML path.")]
SetOpt = Annotated[
    list[str] | None, typer.Option("--set", help="Override any setting: section.key=value (repeatable).")
]


def run_training(cfg: Config, resume: bool) -> dict[str, float]:
    """Train with a progress bar; returns the last metrics."""
    from jepaworld.train import train as train_fn

    with make_progress() as progress:
        task = progress.add_task("train", total=cfg.train.steps, info="")

        def on_step(step: int, m: dict[str, float]) -> None:
            info = f"loss {m.get('loss', 0):.4f} pred {m.get('pred', 0):.4f} sigreg {m.get('sigreg', 0):.3f}"
            if "samples_per_s" in m:
                info += f" | {m['samples_per_s']:.0f} samples/s"
            if "val_pred" in m:
                info += f" | val {m['val_pred']:.4f} (copy {m['val_copy']:.4f})"
            progress.update(task, completed=step, info=info)

        result = train_fn(cfg, resume=resume, progress=on_step)
    return result.last | {"wall_s": result.wall_s}


def train(
    config: ConfigOpt = "cpu",
    set_: SetOpt = None,
    data: Annotated[str | None, typer.Option("--data", help="Episode file (HDF5).")] = None,
    out: Annotated[str | None, typer.Option("--out", help="Run folder for checkpoints and metrics.")] = None,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps.")] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --out from its last checkpoint.")
    ] = False,
) -> None:
    """Train a JEPA world model (next-embedding MSE + lambda * SIGReg) on an episode file."""
    with user_errors():
        cfg = load_config(config, set_)
        if data:
            cfg.data.path = data
        if out:
            cfg.train.out = out
        if steps:
            cfg.train.steps = steps
        if not Path(cfg.data.path).exists():
            raise FileNotFoundError(
                f"episode file {cfg.data.path} does not exist; collect it first: "
                f"jepaworld collect --env {cfg.data.env} --out {cfg.data.path}"
            )
        from jepaworld.train import CheckpointError, TrainingDiverged

        try:
            last = run_training(cfg, resume)
        except (CheckpointError, TrainingDiverged) as e:
            raise ValueError(str(e)) from None
        except KeyboardInterrupt:
            console.print(f"\ninterrupted; resume with: jepaworld train -c {config} --out {cfg.train.out} --resume")
            raise typer.Exit(130) from None
    console.print(
        f"[green]done[/] {cfg.train.out}: step {int(last['step'])}, train pred {last['pred']:.4f}, "
        f"val pred {last.get('val_pred', float('nan')):.4f} "
        f"(copy-last baseline {last.get('val_copy', float('nan')):.4f}), "
        f"eff. rank {last.get('eff_rank', float('nan')):.1f}, {last['wall_s'] / 60:.1f} min"
    )
    console.print(f"metrics: {cfg.train.out}/metrics.csv   plot: {cfg.train.out}/plots/loss.png")
