"""Reacher and Cube on a CPU: frames/s of the renderer, env steps/s, and collection throughput.

For each env: render-only frames/s at ``--resolution`` (one process, the same state redrawn), env
step + render steps/s under the scripted expert (each also as CPU ms, which a busy machine does not
inflate), and ``jepaworld collect`` frames/s with
``--workers`` processes (``--episodes`` x ``--steps`` into a temporary file). For Cube it also
times OGBench's own renderer settings (shadows, reflections, skybox, 4x multisampling) for
comparison with the cheapest ones the env uses. The GL backend is printed (EGL, else OSMesa).

Usage: python benchmarks/mujoco_render.py [--env reacher cube] [--resolution 64] [--frames 200]
                                          [--workers 2] [--episodes N] [--steps N]
(collection defaults: Reacher 40 episodes x 100 steps, Cube 4 x 50)
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from jepaworld.config import DataConfig
from jepaworld.data.collect import collect
from jepaworld.envs import get_spec, make
from jepaworld.envs.mujoco_gl import require_mujoco


def render_rate(env, frames: int) -> tuple[float, float]:
    """(frames/s wall-clock, CPU ms per frame): the CPU time counts the rasteriser's threads too, and is
    what a frame costs whatever else the machine is running."""
    env.render()  # first frame: context and buffers
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(frames):
        env.render()
    return frames / (time.perf_counter() - t0), 1000 * (time.process_time() - c0) / frames


def step_rate(env, name: str, steps: int) -> tuple[float, float]:
    """(steps/s wall-clock, CPU ms per step) of the scripted expert: policy + physics + frame."""
    obs, info = env.reset(seed=0)
    policy = get_spec(name).make_policy(env, np.random.default_rng(0), 0.1 if name == "cube" else 0.3)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(steps):
        obs, _, _, _, info = env.step(policy(obs, info["state"]))
    return steps / (time.perf_counter() - t0), 1000 * (time.process_time() - c0) / steps


def ogbench_default_rate(env, frames: int) -> float:
    """Cube frames/s with OGBench's renderer settings (shadows, reflections, skybox, 4x MSAA)."""
    import mujoco

    model = env.unwrapped._sim.model
    saved = model.vis.quality.shadowsize, model.vis.quality.offsamples
    model.vis.quality.shadowsize, model.vis.quality.offsamples = 4096, 4
    renderer = mujoco.Renderer(model, env.unwrapped.resolution, env.unwrapped.resolution)
    try:
        renderer.update_scene(env.unwrapped._sim.data, camera="front_pixels")
        renderer.render()
        t0 = time.perf_counter()
        for _ in range(frames):
            renderer.update_scene(env.unwrapped._sim.data, camera="front_pixels")
            renderer.render()
        return frames / (time.perf_counter() - t0)
    finally:
        renderer.close()
        model.vis.quality.shadowsize, model.vis.quality.offsamples = saved


def collect_rate(name: str, args: argparse.Namespace, episodes: int, steps: int) -> tuple[float, float]:
    """(frames/s, seconds) of ``collect`` with ``args.workers`` processes, process start-up included."""
    cfg = DataConfig(env=name, episodes=episodes, max_steps=steps, resolution=args.resolution,
                     workers=args.workers, noise=0.1 if name == "cube" else 0.3)  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        result = collect(cfg, Path(tmp) / f"{name}.h5")
    return result.frames / result.seconds, result.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--env", nargs="+", default=["reacher", "cube"], choices=["reacher", "cube"])
    parser.add_argument("--resolution", type=int, default=64)
    parser.add_argument("--frames", type=int, default=200, help="frames per render timing (Cube: a tenth)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--episodes", type=int, default=None)
    parser.add_argument("--steps", type=int, default=None)
    args = parser.parse_args()

    backend = require_mujoco("Reacher and Cube", ("mujoco", "dm_control", "ogbench"))
    print(f"GL backend: MUJOCO_GL={backend}; {os.cpu_count()} CPUs; {args.resolution} px")
    for name in args.env:
        frames = args.frames if name == "reacher" else max(args.frames // 10, 5)
        t0 = time.perf_counter()
        env = make(name, resolution=args.resolution)
        build = time.perf_counter() - t0
        env.reset(seed=0)
        render = render_rate(env, frames)
        extra = f" (OGBench's settings: {ogbench_default_rate(env, frames):.1f} frames/s)" if name == "cube" else ""
        step = step_rate(env, name, frames)
        env.close()
        print(f"{name}: build {build:.1f} s; render {render[0]:.1f} frames/s, {render[1]:.1f} CPU ms/frame{extra}; "
              f"expert step + render {step[0]:.1f}/s, {step[1]:.1f} CPU ms/step")  # fmt: skip
        episodes = args.episodes or (40 if name == "reacher" else 4)
        steps = args.steps or (100 if name == "reacher" else 50)
        rate, seconds = collect_rate(name, args, episodes, steps)
        print(f"{name}: collect {episodes} x {steps} steps with {args.workers} workers: "
              f"{rate:.1f} frames/s ({seconds:.1f} s, start-up included)")  # fmt: skip


if __name__ == "__main__":
    main()
