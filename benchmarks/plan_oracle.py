"""Which part limits planning success: the planner, the latent cost, or the predictor?

    python benchmarks/plan_oracle.py --ckpt runs/demo-pusht/run [--episodes 20] [--seed 0]

Runs the protocol's episodes (the same draw as ``jepaworld eval --seed S``) with the run's own
planner settings (CEM, horizon, block noise, receding horizon, warm start) three ways:

- ``sim + state cost``:  candidates rolled out in the *true simulator*, scored by the true state
  distance to the goal (the success test's quantities, each divided by its threshold). Its
  success rate is what this planner budget can do with perfect dynamics and a perfect cost.
- ``sim + latent cost``: rolled out in the simulator, scored by the run's encoder:
  ``||enc(frame) - enc(goal frame)||^2``. The drop from the line above is the cost's fault.
- ``sim + pixel cost``:  as above, scored by the squared pixel distance to the goal frame (a
  reference for what a representation that keeps every pixel would give).
- ``world model``:       the normal closed loop (``LatentMPC``), predictor and latent cost. The drop
  from the line above is the predictor's fault.

The simulator lines need an env with ``set_state`` and a success test on its state (Push-T,
Two-Room, Reacher); they cost samples x iterations x horizon x frameskip env steps per plan.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

import jepaworld
from jepaworld.config import EvalConfig
from jepaworld.envs import get_spec, make
from jepaworld.eval.episodes import draw_episodes
from jepaworld.eval.runner import run_mpc
from jepaworld.eval.stats import wilson_interval
from jepaworld.plan.problem import PlanProblem
from jepaworld.plan.registry import plan as run_planner
from jepaworld.plan.warm import shift_plan
from jepaworld.run.episodes import held_out_episodes


def state_cost(env_name: str, s: np.ndarray, g: np.ndarray) -> float:
    """The success test's quantities over their thresholds (1.0 = at the threshold)."""
    if env_name == "pusht":
        from jepaworld.envs.pusht import angle_error, goal_distance

        return float(max(goal_distance(s, g) / 20.0, angle_error(s, g) / (math.pi / 9)))
    if env_name == "reacher":
        d = np.abs((s[:2] - g[:2] + math.pi) % (2 * math.pi) - math.pi)
        return float(d.max() / 0.05)
    return float(np.linalg.norm(s[:2] - g[:2]))


class SimPlanner:
    """The run's planner with the simulator as its model; ``act(env, goal, z_goal) -> block (fs, A)``."""

    def __init__(self, wm, spec, cfg, cost: str, seed: int) -> None:
        self.wm, self.cfg, self.cost = wm, cfg, cost
        self.fs, self.A = wm.meta.frameskip, spec.action_dim
        self.norm = wm.meta.normalizer
        lo, hi = (np.tile(self.norm.normalize_action(b), self.fs) for b in (spec.action_low, spec.action_high))
        self.problem = PlanProblem(1, cfg.horizon, self.fs, self.A, bounds=(torch.as_tensor(lo), torch.as_tensor(hi)))
        self.generator = torch.Generator().manual_seed(seed)
        self.sim = make(wm.meta.env, resolution=wm.meta.resolution)
        self.sim.reset(seed=0)
        self.prev: torch.Tensor | None = None

    @torch.no_grad()
    def plan(self, state: np.ndarray, goal: np.ndarray, z_goal: torch.Tensor) -> np.ndarray:
        H, fs, A = self.cfg.horizon, self.fs, self.A
        goal_frame = self.sim.render_state(goal) / 255.0

        def cost_fn(actions: torch.Tensor) -> torch.Tensor:  # (1, S, H, fs*A) -> (1, S)
            raw = self.norm.denormalize_action(actions[0].reshape(-1, H * fs, A).numpy())
            ends, frames = [], []
            for plan in raw:
                self.sim.set_state(state)
                for k, a in enumerate(plan):
                    obs, *_ = self.sim.step(a)
                    if (k + 1) % fs == 0:
                        ends.append(self.sim.get_state())
                        frames.append(obs)
            if self.cost == "state":
                c = torch.tensor([state_cost(self.wm.meta.env, s, goal) for s in ends])
            elif self.cost == "pixel":
                c = torch.as_tensor(((np.stack(frames) / 255.0 - goal_frame) ** 2).sum((1, 2, 3)))
            else:
                z = self.wm.encode(torch.as_tensor(np.stack(frames))[:, None])[:, 0]
                c = ((z - z_goal) ** 2).sum(-1)
            c = c.reshape(-1, H)
            return (c.min(1).values if self.cfg.cost == "min" else c[:, -1])[None]

        init = None if self.prev is None else shift_plan(self.prev, 1)
        res = run_planner(cost_fn, self.problem, self.cfg, init=init, generator=self.generator)
        self.prev = res.actions
        return self.norm.denormalize_action(res.actions[0, 0].reshape(fs, A).numpy())


def run_sim(wm, spec, cfg, episodes, budget: int, cost: str, seed: int) -> list[bool]:
    out = []
    for ep in episodes:
        env = make(wm.meta.env, resolution=wm.meta.resolution)
        env.reset(seed=ep.index)
        env.set_state(ep.start)
        z_goal = wm.encode(torch.as_tensor(env.render_state(ep.goal))[None, None])[:, 0]
        planner, used, ok = SimPlanner(wm, spec, cfg, cost, seed), 0, False
        while used < budget and not ok:
            for a in planner.plan(env.get_state(), ep.goal, z_goal):
                env.step(a)
                used += 1
                ok = env.is_success(env.get_state(), ep.goal)
                if ok or used >= budget:
                    break
        out.append(ok)
        print(f"  {cost:6s} episode {ep.index:3d}: {'success' if ok else 'fail'} after {used} steps", flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--goal-offset", type=int, default=25)
    ap.add_argument("--budget", type=int, default=50)
    ap.add_argument("--only", choices=["state", "pixel", "latent", "model"], action="append",
                    help="run only these lines (repeatable)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wm = jepaworld.load(args.ckpt, device="cpu")
    spec, cfg = get_spec(wm.meta.env), wm.config.plan
    ecfg = EvalConfig(episodes=args.episodes, seed=args.seed, goal_offset=args.goal_offset, budget=args.budget)
    probe = make(wm.meta.env, resolution=wm.meta.resolution)
    f, ids, _ = held_out_episodes(wm.meta, None)
    episodes = draw_episodes(f, ids, ecfg, solved=probe.is_success).episodes
    print(f"{wm.meta.env}: {len(episodes)} episodes, goal +{args.goal_offset}, budget {args.budget}; planner "
          f"{cfg.planner} {cfg.samples}x{cfg.iterations}, horizon {cfg.horizon}, cost {cfg.cost}")  # fmt: skip
    lines = args.only or ["state", "pixel", "latent", "model"]
    rows = []
    for line in lines:
        t0 = time.perf_counter()
        if line == "model":
            mpc = wm.mpc(cfg, seed=args.seed)
            ok = [r.success for r in run_mpc(wm.meta.env, episodes, args.budget, wm.meta.resolution, mpc)]
            name = "world model (predictor + latent cost)"
        else:
            ok = run_sim(wm, spec, cfg, episodes, args.budget, line, args.seed)
            name = f"simulator + {line} cost"
        rows.append((name, sum(ok), len(ok), time.perf_counter() - t0))
    print(f"\n{'rollouts + cost':40s} {'success':>8s}  95% interval   wall")
    for name, k, n, wall in rows:
        lo, hi = wilson_interval(k, n)
        print(f"{name:40s} {100 * k / n:7.1f}%  [{100 * lo:4.1f}, {100 * hi:5.1f}]  {wall:6.0f} s")


if __name__ == "__main__":
    main()
