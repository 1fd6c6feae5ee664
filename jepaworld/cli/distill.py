"""``jepaworld distill RUN``: a fast policy imitating the latent planner, and the surprise guard beside it."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from jepaworld.cli.errors import user_errors
from jepaworld.cli.progress import progress_bars
from jepaworld.cli.science_options import DeviceOpt, RunArg, ThreadsOpt, fmt, load_model

console = Console()


def distill_cmd(
    run: RunArg,
    episodes: Annotated[int, typer.Option(help="Training episodes whose frames give start/goal pairs.")] = 200,
    hindsight_pairs: Annotated[int, typer.Option(help="Stage 1: pairs labelled with the dataset's blocks.")] = 20000,
    planner_labels: Annotated[int, typer.Option(help="Stage 2: dataset pairs labelled by the planner.")] = 600,
    dagger_rounds: Annotated[int, typer.Option(help="Stage 3: rounds of policy episodes labelled by the planner "
                                                    "(more extends a finished run).")] = 8,
    dagger_episodes: Annotated[int, typer.Option(help="Policy episodes per DAgger round.")] = 50,
    max_k: Annotated[int, typer.Option(help="Goals 1..max-k blocks after the start.")] = 10,
    steps: Annotated[int, typer.Option(help="Optimiser steps per fit.")] = 2000,
    quantile: Annotated[float, typer.Option(help="Guard threshold: this quantile of held-out surprise.")] = 0.99,
    stall_blocks: Annotated[int, typer.Option(help="Guard: blocks without latent progress that trigger a plan.")] = 4,
    follow_blocks: Annotated[int, typer.Option(help="Guard: blocks of a triggered plan executed (<= horizon).")] = 5,
    guard_rollouts: Annotated[int, typer.Option(help="Guard: policy episodes from held-out starts it is "
                                                     "calibrated on.")] = 200,
    seed: Annotated[int, typer.Option(help="Seed of the pair draws, the policy's initial weights, fits and "
                                           "planner noise.")] = 0,
    fresh: Annotated[bool, typer.Option(help="Discard finished stages and start over.")] = False,
    device: DeviceOpt = "auto",
    threads: ThreadsOpt = 0,
) -> None:
    """Distill the planner into pi(z_t, z_goal) (RUN/agent/policy.safetensors) and calibrate the surprise guard
    (RUN/agent/guard.json); finished stages are reused."""
    with user_errors():
        from jepaworld.agent import DistillConfig, FitSettings, distill

        model = load_model(run, device, threads)
        cfg = DistillConfig(episodes=episodes, hindsight_pairs=hindsight_pairs, planner_labels=planner_labels,
                            dagger_rounds=dagger_rounds, dagger_episodes=dagger_episodes, max_k=max_k,
                            fit=FitSettings(steps=steps), quantile=quantile, stall_blocks=stall_blocks,
                            follow_blocks=follow_blocks, guard_rollouts=guard_rollouts, seed=seed)  # fmt: skip
        with progress_bars() as progress:
            result = distill(model, cfg, fresh=fresh, progress=progress)
    t = Table(title=f"distilled {result.folder}", caption=f"planner labels from: {model.config.plan.describe()}")
    for col in ("stage", "labels", "fit MSE (train / val)", "policy success (its episodes)", "seconds", "reused"):
        t.add_column(col, justify="left" if col == "stage" else "right")
    for s in result.stages:
        fit = f"{fmt(s.fit.get('train_mse'))} / {fmt(s.fit.get('val_mse'))}" if s.fit else "-"
        ps = s.extra.get("policy_success")
        t.add_row(s.stage, str(s.labels), fit, "-" if ps is None else f"{100 * ps:.0f}%", f"{s.seconds:.0f}",
                  "yes" if s.reused else "")  # fmt: skip
    console.print(t)
    g = result.guard
    console.print(f"guard: surprise threshold {g.threshold:.3g} ({g.calibration.get('description', '')}); a plan "
                  f"also when the latent goal distance has not decreased over {g.stall_blocks} blocks; a triggered "
                  f"plan is followed for {g.follow_blocks} blocks")  # fmt: skip
    console.print(f"policy: {result.folder}/policy.safetensors   guard: {result.folder}/guard.json")
