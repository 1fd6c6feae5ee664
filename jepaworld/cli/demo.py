"""``jepaworld demo``: collect -> train -> plan -> report on Two-Room, on a CPU, in minutes.

Each stage is skipped when its output is already complete, so re-running resumes.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import user_errors
from jepaworld.cli.train import SetOpt
from jepaworld.config import load_config

console = Console()


def demo(
    out: Annotated[str, typer.Option(help="Folder for the data, the run and the report.")] = "runs/demo",
    episodes: Annotated[int, typer.Option(help="Episodes to collect.")] = 1000,
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the cpu preset's).")] = None,
    eval_episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 50,
    set_: SetOpt = None,
) -> None:
    """Run the whole loop on Two-Room with the CPU preset and write an HTML report."""
    from jepaworld.cli.collect import run_collect
    from jepaworld.cli.eval import run_eval, summary_table
    from jepaworld.cli.train import run_training
    from jepaworld.eval.report import write_report

    t0 = time.perf_counter()
    with user_errors():
        root = Path(out)
        cfg = load_config("cpu", set_)
        cfg.data.path = str(root / "data" / "tworoom.h5")
        cfg.data.episodes = episodes
        cfg.train.out = str(root / "run")
        if steps is not None:
            cfg.train.steps = steps

        console.rule("[bold]1/3 collect")
        if Path(cfg.data.path).exists():
            console.print(f"reusing {cfg.data.path}")
        else:
            run_collect(cfg.data, overwrite=False)

        console.rule("[bold]2/3 train")
        from jepaworld.run import load_checkpoint

        done_step, train_last = 0, {}
        if (root / "run" / "checkpoints" / "latest").exists():
            meta = load_checkpoint(root / "run").meta
            done_step, train_last = meta.step, meta.metrics
        if done_step >= cfg.train.steps:
            console.print(f"reusing {cfg.train.out} (step {done_step})")
        else:
            train_last = run_training(cfg, resume=done_step > 0)

        console.rule("[bold]3/3 plan and evaluate")
        import jepaworld

        model = jepaworld.load(cfg.train.out)
        cfg.eval.episodes = eval_episodes
        eval_dir = root / "run" / "eval" / "published-protocol"
        if (eval_dir / "results.json").exists():
            console.print(f"reusing {eval_dir}")
            report = json.loads((eval_dir / "results.json").read_text())
        else:
            report = run_eval(model, cfg.plan, cfg.eval, eval_dir, None, True)
        page = write_report(root / "run", [eval_dir], train_last)
    console.print(summary_table(report))
    console.print(f"[bold green]report:[/] {page}   ({(time.perf_counter() - t0) / 60:.1f} min)")
