"""Does a bf16 rollout change the plans? Plan cost of fp32 vs bf16 planning on fixed problems.

    python benchmarks/precision_plan_cost.py --ckpt RUN [--problems 50] [--seeds 3] [--preset NAME]

Problems come from the run's held-out episodes: a start frame (with its ``history`` frames) and
the goal frame ``--goal-offset`` steps later, encoded once; history actions zero. For every seed,
CEM plans all problems in one batch twice, with ``plan.precision`` fp32 and bf16 and the same
noise; each chosen plan is then scored by the same fp32 cost. Printed: the mean fp32 cost of the
fp32 and bf16 plans, the mean |difference| per problem between them (same seed), and, as the
yardstick, the planner's own seed-to-seed difference of fp32 plans (mean |cost(seed a) -
cost(seed b)| per problem). bf16 keeps plans the same when its difference is well inside that
noise.
"""

from __future__ import annotations

import argparse
import itertools
from dataclasses import replace

import numpy as np
import torch

import jepaworld
from jepaworld.config.planners import apply_planner_preset
from jepaworld.plan import PlanProblem, get_planner
from jepaworld.run.episodes import held_out_episodes


def problems(wm, n: int, offset: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """z_hist (n, history, D) and z_goal (n, D) from random starts of held-out episodes."""
    f, ids, _ = held_out_episodes(wm.meta, None)
    h, fs = wm.history, wm.frameskip
    rng = np.random.default_rng(seed)
    starts, goals = [], []
    while len(starts) < n:
        ep = int(ids[rng.integers(len(ids))])
        first, last = fs * (h - 1), int(f.ep_len[ep]) - 1 - offset
        if last < first:
            continue
        t, base = int(rng.integers(first, last + 1)), int(f.ep_offset[ep])
        starts.append(f.pixels[base + t - first : base + t + 1 : fs])
        goals.append(f.pixels[base + t + offset])
    with torch.inference_mode():
        z_hist = wm.encode(torch.as_tensor(np.stack(starts)))
        z_goal = wm.encode(torch.as_tensor(np.stack(goals)))
    return z_hist, z_goal


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True, help="run folder")
    ap.add_argument("--problems", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--goal-offset", type=int, default=25)
    ap.add_argument("--preset", default=None, help="planner preset (configs/plan/NAME); default: the run's planner")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wm = jepaworld.load(args.ckpt, device="cpu")
    cfg = apply_planner_preset(wm.config.plan, args.preset)
    z_hist, z_goal = problems(wm, args.problems, args.goal_offset, seed=0)
    N, fs, A = len(z_goal), wm.frameskip, wm.action_dim
    problem = PlanProblem(N, cfg.horizon, fs, A, bounds=wm.mpc(cfg).bounds)
    planner = get_planner(cfg.planner).fn

    def fp32_cost(actions: torch.Tensor) -> torch.Tensor:  # (N, 1, H, fs*A) -> (N,)
        with torch.inference_mode():
            return wm.cost(z_hist, z_goal, actions, mode=cfg.cost)[:, 0]

    print(f"{args.ckpt}: {N} held-out problems (goal {args.goal_offset} steps ahead), {cfg.describe()}")
    cost = {}  # (precision, seed) -> fp32 cost of the chosen plan, (N,)
    for seed, precision in itertools.product(range(args.seeds), ("fp32", "bf16")):
        plan_cfg = replace(cfg, precision=precision)

        def cost_fn(actions: torch.Tensor, plan_cfg=plan_cfg) -> torch.Tensor:
            return wm.cost(z_hist, z_goal, actions, mode=plan_cfg.cost, precision=plan_cfg.precision)

        with torch.inference_mode():
            result = planner(cost_fn, problem, plan_cfg, None, torch.Generator().manual_seed(seed))
        cost[precision, seed] = fp32_cost(result.actions[:, None])
        print(f"  seed {seed} {precision}: mean fp32 cost of the chosen plans {cost[precision, seed].mean():.4f}")
    fp32 = torch.stack([cost["fp32", s] for s in range(args.seeds)])
    bf16 = torch.stack([cost["bf16", s] for s in range(args.seeds)])
    same_seed = (bf16 - fp32).abs().mean().item()
    pairs = list(itertools.combinations(range(args.seeds), 2))
    noise = np.mean([(fp32[a] - fp32[b]).abs().mean().item() for a, b in pairs]) if pairs else float("nan")
    print(f"mean plan cost: fp32 {fp32.mean():.4f}, bf16 {bf16.mean():.4f} (bf16 - fp32: {(bf16 - fp32).mean():+.4f})")
    print(f"mean |bf16 - fp32| per problem, same seed: {same_seed:.4f}")
    print(f"planner noise, mean |fp32 seed a - seed b| per problem: {noise:.4f}")


if __name__ == "__main__":
    main()
