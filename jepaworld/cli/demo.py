"""``jepaworld demo``: collect -> train -> plan -> report, on a CPU: Two-Room in minutes (``make demo``),
Push-T (``--env pusht``, the ``pusht-cpu`` preset) in under an hour.

Each stage is skipped when its output is already complete, so re-running resumes.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from jepaworld.cli.errors import UserError, user_errors
from jepaworld.cli.train import SetOpt
from jepaworld.config import load_config, validate

console = Console()


def demo(
    env: Annotated[str, typer.Option(help="tworoom (preset cpu) or pusht (preset pusht-cpu).")] = "tworoom",
    out: Annotated[str | None, typer.Option(help="Folder for the data, the run and the report.")] = None,
    episodes: Annotated[int | None, typer.Option(help="Episodes to collect (default: the preset's).")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the preset's).")] = None,
    eval_episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 50,
    set_: SetOpt = None,
) -> None:
    """Run the whole loop (collect, train, plan and evaluate) with the env's CPU preset; write an HTML report
    (``jepaworld report``: one self-contained file)."""
    from jepaworld.cli.collect import run_collect
    from jepaworld.cli.eval import run_eval, summary_table
    from jepaworld.cli.train import run_training
    from jepaworld.eval.report import write_report

    t0 = time.perf_counter()
    with user_errors():
        presets = {"tworoom": "cpu", "pusht": "pusht-cpu"}
        if env not in presets:
            raise UserError(f"demo --env must be one of {', '.join(presets)}, got {env!r}")
        root = Path(out or ("runs/demo" if env == "tworoom" else f"runs/demo-{env}"))
        cfg = load_config(presets[env], set_)
        cfg.data.path = str(root / "data" / f"{env}.h5")
        if episodes is not None:
            cfg.data.episodes = episodes
        cfg.train.out = str(root / "run")
        if steps is not None:
            cfg.train.steps = steps
        cfg.eval.episodes = eval_episodes
        validate(cfg)

        console.rule("[bold]1/3 collect")
        if Path(cfg.data.path).exists():
            console.print(f"reusing {cfg.data.path}")
        else:
            run_collect(cfg.data, overwrite=False)

        console.rule("[bold]2/3 train")
        from jepaworld.run import load_checkpoint

        done_step = 0
        if (root / "run" / "checkpoints" / "latest").exists():
            meta = load_checkpoint(root / "run").meta
            done_step = meta.step
        if done_step >= cfg.train.steps:
            console.print(f"reusing {cfg.train.out} (step {done_step})")
        else:
            try:
                run_training(cfg, resume=done_step > 0)
            except KeyboardInterrupt as e:  # Ctrl-C or SIGTERM: the last step is checkpointed
                signum = getattr(e, "signum", signal.SIGINT)
                console.print(f"\ninterrupted ({signal.Signals(signum).name}); run the same command to resume")
                raise typer.Exit(128 + signum) from None

        console.rule("[bold]3/3 plan and evaluate")
        import jepaworld

        model = jepaworld.load(cfg.train.out)
        eval_dir = root / "run" / "eval" / "published-protocol"
        if (eval_dir / "results.json").exists():
            console.print(f"reusing {eval_dir}")
            report = json.loads((eval_dir / "results.json").read_text())
        else:
            report = run_eval(model, cfg.plan, cfg.eval, eval_dir, None, True)
        page = write_report(root / "run")
    console.print(summary_table(report))
    console.print(f"[bold green]report:[/] {page}   ({(time.perf_counter() - t0) / 60:.1f} min)")
