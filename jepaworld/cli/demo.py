"""``jepaworld demo``: collect -> train -> plan -> two loops -> report, on a CPU: Two-Room in minutes (``make demo``),
Push-T (``--env pusht``, the ``pusht-cpu`` preset) in under an hour.

Each stage is skipped when its output is already complete, so re-running resumes.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from jepaworld.cli.errors import UserError, user_errors
from jepaworld.cli.train import SetOpt
from jepaworld.config import load_config, validate

console = Console()

# Stage 4's distillation: the cheap end of `jepaworld distill` (its defaults: 600 planner labels, 8 DAgger rounds,
# 9.6 min here); measured on the demo model in docs/results/loops.md.
DEMO_DISTILL: dict = {"planner_labels": 200, "dagger_rounds": 0}


def demo(
    env: Annotated[str, typer.Option(help="tworoom (preset cpu) or pusht (preset pusht-cpu).")] = "tworoom",
    out: Annotated[str | None, typer.Option(help="Folder for the data, the run and the report.")] = None,
    episodes: Annotated[int | None, typer.Option(help="Episodes to collect (default: the preset's).")] = None,
    steps: Annotated[int | None, typer.Option(help="Training steps (default: the preset's).")] = None,
    eval_episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 50,
    agent: Annotated[
        bool | None,
        typer.Option(
            help="Stage 4: a cheap `jepaworld distill`, then the guarded agent "
            "(default: on for tworoom, where it was measured)."
        ),
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Run the whole loop (collect, train, plan and evaluate) with the env's CPU preset; write an HTML report
    (``jepaworld report``: one self-contained file)."""
    from jepaworld.cli.collect import run_collect
    from jepaworld.cli.eval import run_eval, summary_table
    from jepaworld.cli.progress import print_table
    from jepaworld.cli.train import run_training
    from jepaworld.report import write_report

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
        agent = env == "tworoom" if agent is None else agent
        n_stages = 4 if agent else 3

        console.rule(f"[bold]1/{n_stages} collect")
        if Path(cfg.data.path).exists():
            console.print(f"reusing {cfg.data.path}")
        else:
            run_collect(cfg.data, overwrite=False)

        console.rule(f"[bold]2/{n_stages} train")
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

        console.rule(f"[bold]3/{n_stages} plan and evaluate")
        import jepaworld

        model = jepaworld.load(cfg.train.out)
        eval_dir = root / "run" / "eval" / "published-protocol"
        if (eval_dir / "results.json").exists():
            console.print(f"reusing {eval_dir}")
            report = json.loads((eval_dir / "results.json").read_text())
        else:
            report = run_eval(model, cfg.plan, cfg.eval, eval_dir, None, True)
        agent_report = two_loops(model, cfg, root / "run") if agent else None
        page = write_report(root / "run")
    print_table(console, summary_table(report))
    if agent_report is not None:
        print_table(console, summary_table(agent_report))
    console.print(f"[bold green]report:[/] {page}   ({(time.perf_counter() - t0) / 60:.1f} min)")


def two_loops(model: Any, cfg: Any, run: Path) -> dict:
    """Stage 4: distill (``DEMO_DISTILL``; a policy already in ``RUN/agent`` is used as it is) and evaluate the
    guarded agent on the published-protocol episodes of stage 3; the results.json dict."""
    import copy

    from jepaworld.agent import DistillConfig, distill
    from jepaworld.agent.guard import GUARD
    from jepaworld.agent.policy import WEIGHTS
    from jepaworld.cli.eval import run_eval
    from jepaworld.cli.progress import progress_bars

    console.rule("[bold]4/4 two loops: distilled policy + surprise guard")
    eval_dir = run / "eval" / "published-protocol-agent"
    if (eval_dir / "results.json").exists():
        console.print(f"reusing {eval_dir}")
        return json.loads((eval_dir / "results.json").read_text())
    folder = run / "agent"
    if (folder / WEIGHTS).exists() and (folder / GUARD).exists():
        console.print(f"reusing {folder} (distilled before)")
    else:
        t0 = time.perf_counter()
        with progress_bars() as progress:
            distill(model, DistillConfig(**DEMO_DISTILL), plan=cfg.plan, progress=progress)
        console.print(f"distilled {folder} in {time.perf_counter() - t0:.0f} s")
    eval_cfg = copy.deepcopy(cfg.eval)
    eval_cfg.videos = 0
    return run_eval(model, cfg.plan, eval_cfg, eval_dir, None, False, agents=["guarded"])
