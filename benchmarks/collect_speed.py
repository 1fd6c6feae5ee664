"""Collection speed of Reacher and Cube (``jepaworld collect``), and the eval's cost per episode.

For each env: the CPU seconds to build one env (OGBench compiles Cube's scene, a renderer opens an
OpenGL context), then ``jepaworld collect`` of ``--episodes`` x ``--steps`` with each of ``--workers``
process counts (best of ``--repeat``), as frames/s of wall clock and as CPU ms per frame (this process
and its workers, the rasteriser's threads included; a busy machine does not inflate it, so on an idle
machine ``cores x 1000 / CPU ms`` frames/s is what the cores give). With ``--eval N``: the random
baseline on N goal episodes (starts and goals from a collected episode) run twice, as an evaluation
runs its methods one after the other: the second time on envs from the env pool (reused, as eval now
does) and once more after emptying it (built anew per episode, as eval did before), in seconds of
wall clock and CPU per episode. Also the CPU ms of a frame on an env already built (what a long
collection pays per frame), and the time ``--project`` episodes would take on ``--cores`` idle cores.

Usage: python benchmarks/collect_speed.py [--env cube reacher] [--episodes 10] [--steps 100]
                                          [--workers 1 2] [--repeat 1] [--resolution 64] [--eval 0]
                                          [--project 2000] [--cores 2]
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np

from jepaworld.config import DataConfig
from jepaworld.control import GoalEpisode
from jepaworld.data import EpisodeFile
from jepaworld.data.collect import collect, run_episode
from jepaworld.envs import get_spec, make
from jepaworld.envs.mujoco_gl import require_mujoco

NOISE = {"cube": 0.1, "reacher": 0.3}


def cpu_seconds() -> float:
    """CPU seconds of this process and of its finished children (collect's workers), all threads."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def build_seconds(name: str, resolution: int) -> tuple[float, float]:
    """(wall s, CPU s) to build and close one env."""
    t0, c0 = time.perf_counter(), cpu_seconds()
    make(name, resolution=resolution).close()
    return time.perf_counter() - t0, cpu_seconds() - c0


def collect_rate(name: str, episodes: int, steps: int, workers: int, resolution: int, out: Path) -> tuple[float, float]:
    """(frames/s wall clock, CPU ms per frame) of one ``jepaworld collect`` into ``out``."""
    cfg = DataConfig(env=name, episodes=episodes, max_steps=steps, resolution=resolution, workers=workers,
                     noise=NOISE.get(name, 0.1))  # fmt: skip
    t0, c0 = time.perf_counter(), cpu_seconds()
    result = collect(cfg, out=out, overwrite=True)
    return result.frames / (time.perf_counter() - t0), 1000 * (cpu_seconds() - c0) / result.frames


def frame_cost(name: str, steps: int, resolution: int) -> float:
    """CPU ms per frame of one episode on an env already built (what a worker pays per frame once its
    env is up): the scripted expert, the physics and the frame, as ``jepaworld collect`` runs them."""
    env = make(name, resolution=resolution)
    try:
        policy = get_spec(name).make_policy
        run_episode(env, policy, 0, 0, 5, NOISE.get(name, 0.1))  # first frames: context and buffers
        c0 = cpu_seconds()
        episode = run_episode(env, policy, 0, 1, steps, NOISE.get(name, 0.1))
        return 1000 * (cpu_seconds() - c0) / len(episode["state"])
    finally:
        env.close()


def goal_episodes(path: Path, n: int, offset: int = 25) -> list[GoalEpisode]:
    """``n`` (start, goal) pairs ``offset`` steps apart along the file's first episode."""
    states = np.asarray(EpisodeFile(path).require_state("the eval timing"))
    length = len(states) // 2  # within the first episodes, whatever their lengths
    ts = np.linspace(0, max(0, length - offset - 1), n).astype(int)
    return [GoalEpisode(index=i, episode=0, t=int(t), start=states[t], goal=states[t + offset])
            for i, t in enumerate(ts)]  # fmt: skip


def eval_seconds(name: str, episodes: list[GoalEpisode], resolution: int, budget: int = 50) -> tuple[float, float]:
    """(wall s, CPU s) per episode of the random baseline on ``episodes``."""
    from jepaworld.control import PolicyController, run_episodes

    spec = get_spec(name)

    def random(state, goal, rng):
        return rng.uniform(spec.action_low, spec.action_high)

    t0, c0 = time.perf_counter(), cpu_seconds()
    run_episodes(name, episodes, budget, resolution, PolicyController(random, seed=0))
    return (time.perf_counter() - t0) / len(episodes), (cpu_seconds() - c0) / len(episodes)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--env", nargs="+", default=["cube", "reacher"])
    ap.add_argument("--episodes", type=int, default=10)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=1, help="collections per setting; the best is printed")
    ap.add_argument("--resolution", type=int, default=64)
    ap.add_argument("--eval", type=int, default=0, help="goal episodes for the eval timing (0: skip it)")
    ap.add_argument("--project", type=int, default=2000, help="episodes to project the collection time for")
    ap.add_argument("--cores", type=int, default=2, help="idle cores (workers) to project the collection time for")
    args = ap.parse_args()
    for name in args.env:
        print(f"{name} ({require_mujoco(name)}), {args.resolution} px:")
        wall, cpu = build_seconds(name, args.resolution)
        print(f"  build one env: {wall:.1f} s wall, {cpu:.2f} s CPU")
        ms = frame_cost(name, args.steps, args.resolution)
        hours = args.project * (args.steps + 1) * ms / 1000 / args.cores / 3600
        print(f"  a frame on a built env (expert + physics + frame): {ms:.1f} CPU ms; {args.project:,} episodes x "
              f"{args.steps} steps would take {hours:.2f} h on {args.cores} idle cores")  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            out = Path(tmp) / f"{name}.h5"
            for workers in args.workers:
                runs = [collect_rate(name, args.episodes, args.steps, workers, args.resolution, out)
                        for _ in range(args.repeat)]  # fmt: skip
                rate, ms = max(r[0] for r in runs), min(r[1] for r in runs)
                print(f"  collect {args.episodes} x {args.steps} steps, {workers} worker(s): {rate:.1f} frames/s, "
                      f"{ms:.1f} CPU ms a frame ({1000 / ms:.0f} frames/s per idle core)")  # fmt: skip
            if args.eval:
                from jepaworld.envs import pool

                episodes = goal_episodes(out, args.eval)
                pool.clear()
                eval_seconds(name, episodes, args.resolution)  # a first method: builds the envs
                reused = eval_seconds(name, episodes, args.resolution)  # the next one reuses them
                pool.clear()
                rebuilt = eval_seconds(name, episodes, args.resolution)
                pool.clear()
                for label, (w, c) in (("envs reused", reused), ("envs built per episode", rebuilt)):
                    print(f"  eval (random baseline, budget 50), {label}: {w:.2f} s wall, {c:.2f} s CPU an episode")


if __name__ == "__main__":
    main()
