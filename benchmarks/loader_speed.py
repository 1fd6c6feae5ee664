"""Training windows per second from disk, 64 and 224 px: the read before issue 16 vs the loader with
0/1/2/4 workers, beside what a cpu-preset training step consumes; and the published Two-Room
collection's size and time, extrapolated from a measured sample.

    python benchmarks/loader_speed.py [--episodes 40] [--seconds 4] [--repeats 3] [--workers 0 1 2 4] [--threads 1]

Windows are the published ones (history 3 + 1 predicted frame, frameskip 5, batch 128), read from a
freshly collected Two-Room file (one frame per chunk, deflate level 1: what `jepaworld collect`
writes). The file is small enough to sit in the page cache, so these are decode-and-assemble rates,
not disk rates. Each windows/s is the best of --repeats runs of --seconds each, runs of the compared
settings alternating, since the machine may be shared. The CPU column is the training process's own
CPU time: in process it is the whole cost (1 / it = windows per core-second, what one worker
gives), with workers it is what receiving batches costs the training process.

"h5py per frame" is the read the sampler used before the loader: one h5py call per frame through
HDF5's filter pipeline (``FrameReader.direct = False``), in the training process. "loader, N
workers" is `jepaworld.train.loader.window_batches`, which the training loop uses; 0 workers
assembles each batch in the training process when it is asked for.

The training-step part runs the cpu preset's model (fwd + bwd + AdamW, batch 128, 64 px, frames in
RAM as the preset trains) fed three ways: the sampler called in the loop (the loop before the
loader), the loader with 0 workers (the default) and with 1 worker; feeds alternate, 5 timed steps
at a time, and the fastest and the median step are shown (the fastest is the least disturbed by
other jobs on a shared machine).
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import torch

from jepaworld.config import DataConfig, load_config
from jepaworld.data import EpisodeFile, WindowSampler
from jepaworld.data.collect import CollectResult, collect
from jepaworld.model import SIGReg
from jepaworld.train.loader import window_batches
from jepaworld.train.loop import build_model, jepa_loss

HISTORY, PRED, FRAMESKIP, BATCH = 3, 1, 5, 128  # the published windows
PUBLISHED_EPISODES, PUBLISHED_STEPS = 10_000, 92  # Two-Room as published: 10,000 episodes of ~92 steps
FOREVER = range(1, 10**9)


def best_rates(makers: dict[str, Callable[[], Iterator]], seconds: float, repeats: int, per_item: int) -> dict:
    """``{name: (items/s, main-process CPU s per 1,000 items)}`` of each maker's iterator, best of ``repeats``
    alternating runs; the first item (start-up) is not timed."""
    best = dict.fromkeys(makers, (0.0, 0.0))
    for _ in range(repeats):
        for name, make in makers.items():
            it = make()
            next(it)
            n, t0, c0 = 0, time.perf_counter(), time.process_time()
            while time.perf_counter() - t0 < seconds:
                next(it)
                n += per_item
            rate, cpu = n / (time.perf_counter() - t0), (time.process_time() - c0) / n * 1000
            best[name] = max(best[name], (rate, cpu))
            del it  # stops its workers
    return best


def sampled(sampler: WindowSampler) -> Iterator:
    rng = np.random.default_rng(0)
    while True:
        yield sampler.sample(BATCH, rng)


def collect_sample(res: int, episodes: int, folder: Path) -> CollectResult:
    return collect(DataConfig(episodes=episodes, resolution=res, workers=1), folder / f"tworoom{res}.h5")


def loader_rates(path: Path, workers: list[int], seconds: float, repeats: int) -> dict[str, float]:
    f = EpisodeFile(path)
    ids = np.arange(f.n_episodes)
    disk = WindowSampler(f, ids, HISTORY, PRED, FRAMESKIP, in_memory=False)
    before = WindowSampler(f, ids, HISTORY, PRED, FRAMESKIP, in_memory=False)
    before.reader.direct = False  # h5py's filter pipeline, one call per frame
    makers = {"h5py per frame": lambda: sampled(before)}
    for w in workers:
        makers[f"loader, {w} workers"] = lambda w=w: window_batches(disk, BATCH, FOREVER, seed=0, workers=w)
    return best_rates(makers, seconds, repeats, BATCH)


def training_step_rates(path: Path, rounds: int, steps_per_round: int = 5) -> dict[str, tuple[float, float]]:
    """``{feed: (best, median)}`` samples/s of cpu-preset training steps, batches from the loop's sampler
    call or the loader; feeds alternate, ``rounds`` times ``steps_per_round`` timed steps each."""
    cfg = load_config("cpu")
    f = EpisodeFile(path)
    ids = np.arange(f.n_episodes)
    sampler = WindowSampler(f, ids, cfg.data.history, cfg.data.pred, cfg.data.frameskip, in_memory=True)
    model = build_model(cfg, action_dim=int(f.action.shape[1]))
    sigreg = SIGReg(cfg.train.sigreg_directions, cfg.train.sigreg_knots)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    b = cfg.train.batch_size

    def steps(batches: Iterator) -> Iterator:
        for pixels, actions in batches:
            loss = jepa_loss(model, sigreg, pixels, actions, cfg.train.sigreg_lambda)["loss"]
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            yield

    def in_loop() -> Iterator:
        rng = np.random.default_rng(0)
        return steps(sampler.sample(b, rng) for _ in FOREVER)

    makers = {
        "sampler in the loop (before)": in_loop,
        "loader, 0 workers": lambda: steps(window_batches(sampler, b, FOREVER, seed=0, workers=0)),
        "loader, 1 worker": lambda: steps(window_batches(sampler, b, FOREVER, seed=0, workers=1)),
    }
    times: dict[str, list[float]] = {name: [] for name in makers}
    for _ in range(rounds):
        for name, make in makers.items():
            it = make()
            next(it)  # start-up
            for _ in range(steps_per_round):
                t0 = time.perf_counter()
                next(it)
                times[name].append(time.perf_counter() - t0)
            del it
    return {name: (b / min(ts), b / float(np.median(ts))) for name, ts in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=40, help="episodes collected per resolution")
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 1, 2, 4])
    parser.add_argument("--threads", type=int, default=1, help="torch threads of the training step")
    args = parser.parse_args()
    warnings.filterwarnings("ignore", message=".*worker processes in total")  # 4 workers on 2 cores: on purpose
    torch.set_num_threads(args.threads)
    print(f"windows: history {HISTORY} + {PRED}, frameskip {FRAMESKIP}, batch {BATCH}; best of {args.repeats}")
    with tempfile.TemporaryDirectory() as tmp:
        samples = {res: collect_sample(res, args.episodes, Path(tmp)) for res in (64, 224)}
        for res, result in samples.items():
            rates = loader_rates(result.path, args.workers, args.seconds, args.repeats)
            base = rates["h5py per frame"][0]
            print(f"\n{res} px, from disk: windows/s, vs h5py per frame, CPU of the training process per 1k windows")
            for name, (rate, cpu) in rates.items():
                print(f"  {name:<18} {rate:>8,.0f}   x{rate / base:<5.2f} {cpu:6.2f} s")
        step = training_step_rates(samples[64].path, rounds=2 * args.repeats)
        print(
            f"\ncpu preset training step (64 px, frames in RAM, {args.threads} torch thread(s); feeds alternate, "
            f"{2 * args.repeats} x 5 steps each): samples/s of the fastest step, of the median step"
        )
        for name, (best, median) in step.items():
            print(f"  {name:<30} {best:>6,.0f}   {median:>6,.0f}")
        r = samples[224]
        frames = PUBLISHED_EPISODES * (PUBLISHED_STEPS + 1)
        print(
            f"\npublished collection (Two-Room, {PUBLISHED_EPISODES:,} episodes of ~{PUBLISHED_STEPS} steps at 224 px, "
            f"deflate 1, one frame per chunk), from {r.episodes} episodes ({r.frames} frames) collected in "
            f"{r.seconds:.1f} s with 1 worker:\n"
            f"  {r.bytes / r.frames / 1e3:.1f} kB per frame (raw {224 * 224 * 3 / 1e3:.0f} kB) -> "
            f"{frames * r.bytes / r.frames / 1e9:.1f} GB on disk (raw {frames * 224 * 224 * 3 / 1e9:.0f} GB); "
            f"{frames * r.seconds / r.frames / 60:.0f} min of one core "
            f"({r.frames / r.seconds:,.0f} frames/s; `data.workers` divides it)"
        )


if __name__ == "__main__":
    main()
