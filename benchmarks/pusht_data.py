"""Push-T expert data quality and env speed (one core): how often the block moves, how far, frames/s.

Usage: python benchmarks/pusht_data.py [--episodes 50] [--steps 200] [--noise 0.3] [--resolution 64]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from jepaworld.envs.pusht import PushTEnv, wrap_angle
from jepaworld.envs.pusht_expert import pusht_expert


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=50)
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--noise", type=float, default=0.3)
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    env = PushTEnv(resolution=args.resolution)
    moved, displacement, turned, coverage, env_time, policy_time = [], [], [], [], 0.0, 0.0
    for ep in range(args.episodes):
        obs, info = env.reset(seed=args.seed + ep)
        policy = pusht_expert(env, np.random.default_rng(args.seed + ep), args.noise)
        states = [info["state"]]
        for _ in range(args.steps):
            t0 = time.perf_counter()
            action = policy(obs, info["state"])
            t1 = time.perf_counter()
            obs, _, _, _, info = env.step(action)
            env_time += time.perf_counter() - t1
            policy_time += t1 - t0
            states.append(info["state"])
            coverage.append(info["coverage"])
        s = np.stack(states).astype(np.float64)
        step_px = np.hypot(*np.diff(s[:, 2:4], axis=0).T)
        step_rad = np.abs(wrap_angle(np.diff(s[:, 4])))
        moved.append(((step_px > 0.5) | (step_rad > 0.01)).mean())
        displacement.append(step_px.sum())
        turned.append(step_rad.sum())
    frames = args.episodes * args.steps
    start, n = time.perf_counter(), 5000
    for _ in range(n):
        env.render_state(info["state"])
    render_fps = n / (time.perf_counter() - start)
    print(f"episodes {args.episodes} x {args.steps} steps, noise {args.noise}, {args.resolution} px")
    print(f"steps in which the block moves: {np.mean(moved):.1%} (episode min {np.min(moved):.1%})")
    print(
        f"block path per episode: {np.mean(displacement):.0f} px (min {np.min(displacement):.0f}), "
        f"turn {np.degrees(np.mean(turned)):.0f} deg"
    )
    print(f"render_state alone: {render_fps:.0f} frames/s")
    print(f"env.step + render: {frames / env_time:.0f} frames/s; expert: {frames / policy_time:.0f} actions/s")


if __name__ == "__main__":
    main()
