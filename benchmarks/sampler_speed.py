"""Collection frames/s and window-sampler windows/s (memory and disk) on a fresh Two-Room file.

Usage: python benchmarks/sampler_speed.py [--episodes 200] [--workers 2]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from jepaworld.config import DataConfig
from jepaworld.data import EpisodeFile, WindowSampler
from jepaworld.data.collect import collect


def windows_per_second(sampler: WindowSampler, batch: int, seconds: float) -> float:
    g = torch.Generator().manual_seed(0)
    sampler.sample(batch, g)  # warm-up
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        sampler.sample(batch, g)
        n += batch
    return n / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tworoom.h5"
        result = collect(DataConfig(episodes=args.episodes, workers=args.workers, resolution=64), path)
        print(
            f"collect: {result.episodes} episodes, {result.frames} frames in {result.seconds:.1f} s = "
            f"{result.frames / result.seconds:,.0f} frames/s; file {result.bytes / 1e6:.1f} MB"
        )
        f = EpisodeFile(path)
        t = time.perf_counter()
        f.load_pixels()
        print(f"load_pixels: {time.perf_counter() - t:.2f} s")
        ids = np.arange(f.n_episodes)
        for in_memory in (True, False):
            sampler = WindowSampler(f, ids, history=3, pred=1, frameskip=5, in_memory=in_memory)
            rate = windows_per_second(sampler, 128, args.seconds if in_memory else args.seconds / 2)
            where = "memory" if in_memory else "disk"
            print(f"sampler ({where}, batch 128, T=4, fs=5, 64 px): {rate:,.0f} windows/s")
        f.close()


if __name__ == "__main__":
    main()
