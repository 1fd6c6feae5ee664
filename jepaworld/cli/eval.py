"""``jepaworld eval``: goal-reaching success of a checkpoint, beside random and heuristic baselines."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import make_progress
from jepaworld.cli.train import SetOpt
from jepaworld.config import update

console = Console()


def plan_description(plan: dict[str, Any]) -> str:
    """The planner line of a results.json ``plan`` entry (also of files written before it had one)."""
    from jepaworld.config import from_dict

    return plan.get("description") or from_dict({"plan": {k: v for k, v in plan.items()}}).plan.describe()


def summary_table(report: dict[str, Any]) -> Table:
    """The success table of a ``results.json`` dict: every method beside the protocol and planner."""
    p = report["protocol"]
    redrawn = p.get("redrawn", 0)
    t = Table(
        title=f"{p['env']}: {p['description']} ({p['episodes']} episodes, seed {p['seed']})",
        caption=f"planner: {plan_description(report['plan'])}\n{redrawn} drawn starts already at the goal were redrawn",
    )
    for col in ("method", "success", "95% CI", "steps to success", "final dist.", "plan s (median / p90)"):
        t.add_column(col, justify="right" if col != "method" else "left")
    for name, s in report["summary"].items():
        lo, hi = s["ci95"]
        plan = (
            f"{s['plan_time_median_s']:.2f} / {s['plan_time_p90_s']:.2f} ({s['envs_per_plan']:.0f} envs)"
            if s["plans"] else "-"
        )  # fmt: skip
        steps = "-" if math.isnan(s["mean_steps_to_success"]) else f"{s['mean_steps_to_success']:.1f}"
        t.add_row(name, f"{100 * s['success_rate']:.0f}%", f"{100 * lo:.0f}-{100 * hi:.0f}%", steps,
                  f"{s['mean_final_distance']:.1f}", plan)  # fmt: skip
    return t


def run_eval(model: Any, plan_cfg: Any, eval_cfg: Any, out: Path, data: str | None, baselines: bool) -> dict:
    """Evaluate with progress bars, write the results under ``out``; returns the results.json dict."""
    from jepaworld.eval import evaluate, write_eval

    with make_progress() as progress:
        tasks: dict[str, Any] = {}

        def on_progress(method: str, done: int, total: int) -> None:
            if method not in tasks:
                tasks[method] = progress.add_task(method, total=total, info="")
            progress.update(tasks[method], completed=done)

        result = evaluate(model, plan_cfg, eval_cfg, data_path=data, baselines=baselines, progress=on_progress)
    write_eval(result, out)
    return result.to_dict()


def eval_cmd(
    ckpt: Annotated[str, typer.Option("--ckpt", help="Run folder (or checkpoint folder) from `jepaworld train`.")],
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 50,
    goal_offset: Annotated[int, typer.Option(help="Goal = the state this many steps later on the trajectory.")] = 25,
    budget: Annotated[int | None, typer.Option(help="Env steps allowed (default: 2 x goal offset).")] = None,
    subset: Annotated[str, typer.Option(help="all | cross-wall (Two-Room: goal in the other room).")] = "all",
    planner: Annotated[str | None, typer.Option(help="cem | mppi | gd (default: the run's config).")] = None,
    preset: Annotated[
        str | None, typer.Option("--preset", help="Planner preset from configs/plan/: published | fast.")
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the episode draw and of the planner.")] = 0,
    n_envs: Annotated[int, typer.Option(help="Environments planned in one batch.")] = 50,
    data: Annotated[
        str | None, typer.Option(help="Held-out episode file (default: the run's validation episodes).")
    ] = None,
    out: Annotated[str | None, typer.Option(help="Output folder (default: RUN/eval/<settings>).")] = None,
    baselines: Annotated[bool, typer.Option(help="Also run random and heuristic baselines.")] = True,
    videos: Annotated[int, typer.Option(help="Episodes to save as GIF.")] = 3,
    device: Annotated[str, typer.Option(help="auto | cpu | cuda")] = "auto",
    set_: SetOpt = None,
) -> None:
    """Evaluate goal reaching under the published protocol (or a harder variant) with baselines."""
    with user_errors():
        import jepaworld
        from jepaworld.config import parse_overrides, validate
        from jepaworld.config.planners import apply_planner_preset
        from jepaworld.plan import get_planner

        model = jepaworld.load(ckpt, device=device)
        cfg = model.config
        cfg.plan = apply_planner_preset(cfg.plan, preset)
        if planner:
            cfg.plan.planner = planner
        cfg.eval.episodes, cfg.eval.goal_offset, cfg.eval.subset = episodes, goal_offset, subset
        cfg.eval.budget = budget if budget is not None else 2 * goal_offset
        cfg.eval.seed, cfg.eval.n_envs, cfg.eval.videos = seed, n_envs, videos
        update(cfg, parse_overrides(set_), source="--set")
        validate(cfg)
        get_planner(cfg.plan.planner)
        tag = f"{cfg.plan.planner}-{preset or 'run'}-off{goal_offset}-b{cfg.eval.budget}-{subset}-n{episodes}-s{seed}"
        folder = Path(out) if out else model.checkpoint_path.parent.parent / "eval" / tag
        report = run_eval(model, cfg.plan, cfg.eval, folder, data, baselines)
    console.print(summary_table(report))
    console.print(f"results: {folder}/results.json   plot: {folder}/success.png   videos: {folder}/videos/")
