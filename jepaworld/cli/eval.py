"""``jepaworld eval``: goal-reaching success of a checkpoint, beside random and heuristic baselines."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console, Group

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import print_table, progress_bars
from jepaworld.cli.train import SetOpt
from jepaworld.config import update

console = Console()


def summary_table(report: dict[str, Any]) -> Group:
    """The success table of a ``results.json`` dict: every method beside the protocol and planner; agents,
    perturbations and memory routes in a second table (each fits 80 columns). ``report.evals`` builds them."""
    from jepaworld.report.evals import summary_tables
    from jepaworld.report.terminal import rich_table

    return Group(*(rich_table(t) for t in summary_tables(report)))


def run_eval(model: Any, plan_cfg: Any, eval_cfg: Any, out: Path, data: str | None, baselines: bool,
             **options: Any) -> dict:  # fmt: skip
    """Evaluate with progress bars, write the results under ``out``; returns the results.json dict.
    ``options``: ``evaluate``'s agents, perturb, perturb_step."""
    from jepaworld.eval import evaluate, write_eval

    with progress_bars() as on_progress:
        result = evaluate(model, plan_cfg, eval_cfg, data_path=data, baselines=baselines, progress=on_progress,
                          **options)  # fmt: skip
    write_eval(result, out)
    return result.to_dict()


def eval_cmd(
    ckpt: Annotated[str, typer.Option("--ckpt", help="Run folder (or checkpoint folder) from `jepaworld train`.")],
    episodes: Annotated[int, typer.Option(help="Evaluation episodes.")] = 50,
    goal_offset: Annotated[int, typer.Option(help="Goal = the state this many steps later on the trajectory.")] = 25,
    budget: Annotated[int | None, typer.Option(help="Env steps allowed (default: 2 x goal offset).")] = None,
    subset: Annotated[
        str, typer.Option(help="all | cross-wall | far-corner (Two-Room: goal in the other room; far-corner: both "
                               "far from the door).")
    ] = "all",
    planner: Annotated[str | None, typer.Option(help="cem | mppi | gd (default: the run's config).")] = None,
    preset: Annotated[
        str | None,
        typer.Option("--preset", help="Planner preset from configs/plan/: published | published-bf16 | fast | icem."),
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
    agent: Annotated[
        str | None,
        typer.Option(help="Run jepaworld.Agent modes instead: planner | policy | guarded, comma-separated, or all "
                          "(policy and guarded need `jepaworld distill RUN`)."),
    ] = None,
    perturb: Annotated[str, typer.Option(help="Mid-episode perturbation: none | teleport.")] = "none",
    perturb_step: Annotated[int, typer.Option(help="Env step of the perturbation.")] = 15,
    threads: Annotated[int, typer.Option(help="torch CPU threads (0: torch's default).")] = 0,
    memory: Annotated[
        str | None,
        typer.Option(help="Memory file (`jepaworld memory build`): also run the planner routed through it."),
    ] = None,
    ensemble: Annotated[
        list[str] | None,
        typer.Option("--ensemble", help="Another training of the same env and preset (repeatable): plan on the "
                                        "members' mean cost (+ plan.ensemble_penalty std) beside --ckpt."),
    ] = None,
    set_: SetOpt = None,
) -> None:
    """Evaluate goal reaching under the published protocol (or a harder variant) with baselines."""
    with user_errors():
        import jepaworld
        from jepaworld.agent import MODES
        from jepaworld.api import ensemble_of
        from jepaworld.cli.errors import UserError
        from jepaworld.config import parse_overrides, validate
        from jepaworld.config.planners import apply_planner_preset
        from jepaworld.plan import get_planner

        agents = [] if agent is None else (list(MODES) if agent == "all" else [a.strip() for a in agent.split(",")])
        bad = [a for a in agents if a not in MODES]
        if bad or (agent is not None and not agents):
            raise UserError(f"--agent {agent!r}: expected {', '.join(MODES)} (comma-separated) or all")
        if memory is not None and agents:
            raise UserError("--memory and --agent are separate comparisons; run them one at a time")
        if ensemble and (agents or memory is not None):
            raise UserError("--ensemble plans with the latent planner only; run --agent and --memory on one run")
        if memory is not None and not Path(memory).is_file():
            raise UserError(f"--memory {memory}: no such file; build it with `jepaworld memory build {ckpt}`")
        if threads < 0:
            raise UserError(f"--threads must be >= 0, got {threads}")
        if threads:
            import torch

            torch.set_num_threads(threads)
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
        if cfg.plan.ensemble_penalty and not ensemble:
            raise UserError("plan.ensemble_penalty weighs the members' disagreement: add --ensemble RUN")
        tag = f"{cfg.plan.planner}-{preset or 'run'}-off{goal_offset}-b{cfg.eval.budget}-{subset}-n{episodes}-s{seed}"
        if ensemble:
            members = [model, *(jepaworld.load(run, device=device) for run in ensemble)]
            model = ensemble_of(members, penalty=cfg.plan.ensemble_penalty)
            tag += f"-ens{len(members)}" + (f"-k{cfg.plan.ensemble_penalty:g}" if cfg.plan.ensemble_penalty else "")
        if agents:
            tag = f"agent-{'+'.join(agents)}-{tag}"
        if perturb != "none":
            tag += f"-{perturb}{perturb_step}"
        if memory is not None:
            tag += "-memory"
        folder = Path(out) if out else model.checkpoint_path.parent.parent / "eval" / tag
        report = run_eval(model, cfg.plan, cfg.eval, folder, data, baselines, agents=agents, perturb=perturb,
                          perturb_step=perturb_step, memory=memory)  # fmt: skip
    print_table(console, summary_table(report))
    console.print(f"results: {folder}/results.json   plot: {folder}/success.png   videos: {folder}/videos/")
    if report.get("agents"):
        console.print(f"decisions: {folder}/decisions.json   surprise and loops: {folder}/agent.png")
