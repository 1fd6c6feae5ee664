"""Which part limits planning success: the planner, the latent cost, or the predictor?

    python benchmarks/plan_oracle.py --ckpt runs/demo-pusht/run [--episodes 20] [--seed 0] \
        [--preset fast] [--set plan.iterations=6] [--only state]

Runs the protocol's episodes (the same draw as ``jepaworld eval --seed S``) with the run's own
planner settings (CEM, horizon, block noise, receding horizon, warm start), or a planner preset and
``--set plan.KEY=VALUE`` overrides as ``jepaworld eval`` takes them, four ways:

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
import time

import numpy as np
import torch

import jepaworld
from jepaworld.config import EvalConfig, parse_overrides, update, validate
from jepaworld.config.planners import apply_planner_preset
from jepaworld.control import draw_episodes, run_episodes
from jepaworld.envs import get_spec, make, pusht, reacher
from jepaworld.envs.goal import goal_distance
from jepaworld.eval.stats import wilson_interval
from jepaworld.plan.problem import PlanProblem
from jepaworld.plan.registry import plan as run_planner
from jepaworld.plan.warm import shift_plan
from jepaworld.run.episodes import held_out_episodes


def state_cost(env_name: str, env, s: np.ndarray, g: np.ndarray) -> float:
    """The success test's quantities over their thresholds (1.0 = at the threshold); other envs: their
    ``goal_distance``."""
    if env_name == "pusht":
        return max(pusht.goal_distance(s, g) / pusht.SUCCESS_PX, pusht.angle_error(s, g) / pusht.SUCCESS_ANGLE)
    if env_name == "reacher":
        return reacher.goal_distance(s, g) / reacher.SUCCESS_RAD
    return goal_distance(env, s, g)


class SimPlanner:
    """The run's planner with the simulator as its model: ``reset(goal)`` per episode, then
    ``plan(state) -> block (fs, A)`` of raw actions every block, warm-started from the last plan."""

    def __init__(self, wm, spec, cfg, cost: str, seed: int) -> None:
        self.wm, self.cfg, self.cost = wm, cfg, cost
        self.fs, self.A = wm.meta.frameskip, spec.action_dim
        self.norm = wm.meta.normalizer
        lo, hi = (np.tile(self.norm.normalize_action(b), self.fs) for b in (spec.action_low, spec.action_high))
        self.problem = PlanProblem(1, cfg.horizon, self.fs, self.A, bounds=(torch.as_tensor(lo), torch.as_tensor(hi)))
        self.seed = seed
        self.sim = make(wm.meta.env, resolution=wm.meta.resolution)
        self.sim.reset(seed=0)

    @torch.no_grad()
    def reset(self, goal: np.ndarray) -> None:
        """A new episode toward the goal state ``goal``: its frame and embedding, no warm start, the
        planner's noise from ``seed`` again (each episode draws the same noise, whatever ran before)."""
        frame = self.sim.render_state(goal)
        self.goal, self.goal_pixels = goal, frame / 255.0
        self.z_goal = self.wm.encode(torch.as_tensor(frame)[None, None])[:, 0]  # (1, D)
        self.generator = torch.Generator().manual_seed(self.seed)
        self.prev: torch.Tensor | None = None

    @torch.no_grad()
    def plan(self, state: np.ndarray) -> np.ndarray:
        H, fs, A = self.cfg.horizon, self.fs, self.A

        def cost_fn(actions: torch.Tensor) -> torch.Tensor:  # (1, S, H, fs*A) -> (1, S)
            raw = self.norm.denormalize_action(actions[0].reshape(-1, H * fs, A).numpy())
            ends, frames = [], []  # the state and frame after each block of each candidate
            for candidate in raw:
                self.sim.set_state(state)
                for k, a in enumerate(candidate):
                    obs, *_ = self.sim.step(a)
                    if (k + 1) % fs == 0:
                        ends.append(self.sim.get_state())
                        frames.append(obs)
            if self.cost == "state":
                c = torch.tensor([state_cost(self.wm.meta.env, self.sim, s, self.goal) for s in ends])
            elif self.cost == "pixel":
                c = torch.as_tensor(((np.stack(frames) / 255.0 - self.goal_pixels) ** 2).sum((1, 2, 3)))
            else:
                z = self.wm.encode(torch.as_tensor(np.stack(frames))[:, None])[:, 0]
                c = ((z - self.z_goal) ** 2).sum(-1)
            c = c.reshape(-1, H)
            return (c.min(1).values if self.cfg.cost == "min" else c[:, -1])[None]

        init = None if self.prev is None else shift_plan(self.prev, 1)
        res = run_planner(cost_fn, self.problem, self.cfg, init=init, generator=self.generator)
        self.prev = res.actions
        return self.norm.denormalize_action(res.actions[0, 0].reshape(fs, A).numpy())

    def close(self) -> None:
        self.sim.close()


def run_sim(wm, spec, cfg, episodes, budget: int, cost: str, seed: int) -> list[bool]:
    """Each episode closed-loop with :class:`SimPlanner` -> success per episode."""
    planner, out = SimPlanner(wm, spec, cfg, cost, seed), []
    for ep in episodes:
        env = make(wm.meta.env, resolution=wm.meta.resolution)
        env.reset(seed=ep.index)
        env.set_state(ep.start)
        planner.reset(ep.goal)
        used, ok = 0, False
        while used < budget and not ok:
            for a in planner.plan(env.get_state()):
                env.step(a)
                used += 1
                ok = env.is_success(env.get_state(), ep.goal)
                if ok or used >= budget:
                    break
        env.close()
        out.append(ok)
        print(f"  {cost:6s} episode {ep.index:3d}: {'success' if ok else 'fail'} after {used} steps", flush=True)
    planner.close()
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
    ap.add_argument("--preset", help="planner preset (configs/plan/NAME.yaml) instead of the run's planner")
    ap.add_argument("--set", dest="overrides", action="append", help="plan.KEY=VALUE (repeatable)")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wm = jepaworld.load(args.ckpt, device="cpu")
    wm.config.plan = apply_planner_preset(wm.config.plan, args.preset)
    update(wm.config, parse_overrides(args.overrides), source="--set")
    validate(wm.config)
    spec, cfg = get_spec(wm.meta.env), wm.config.plan
    ecfg = EvalConfig(episodes=args.episodes, seed=args.seed, goal_offset=args.goal_offset, budget=args.budget)
    probe = make(wm.meta.env, resolution=wm.meta.resolution)
    f, ids, _ = held_out_episodes(wm.meta, None)
    episodes = draw_episodes(f, ids, ecfg, solved=probe.is_success).episodes
    probe.close()
    print(f"{wm.meta.env}: {len(episodes)} episodes (seed {args.seed}), goal +{args.goal_offset}, budget "
          f"{args.budget}; planner: {cfg.describe()}")  # fmt: skip
    lines = args.only or ["state", "pixel", "latent", "model"]
    rows = []
    for line in lines:
        t0 = time.perf_counter()
        if line == "model":
            mpc = wm.mpc(cfg, seed=args.seed)
            ok = [r.success for r in run_episodes(wm.meta.env, episodes, args.budget, wm.meta.resolution, mpc)]
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
