"""Memory at scale: write 10,000 episodes' states to a memory file, reopen it, time nearest-neighbour queries.

    python benchmarks/memory_query.py                       # 10,000 episodes x 21 model frames, D = 192
    python benchmarks/memory_query.py --episodes 1000 --dim 64

The embeddings are synthetic: ``--embeddings manifold`` (default) puts each episode on a random walk
over a 2-D square and maps it into D dimensions with a fixed random two-layer network (a
low-dimensional manifold, like a Two-Room encoder's); ``gaussian`` draws i.i.d. normal vectors (no
structure: the worst case for an inverted file). Each episode is written the way ``memory build``
writes it: states with an env state and a 16-px PNG thumbnail, transitions with their action
block, one transaction per chunk.
Prints the write rate, the file size, the time to reopen and index it, the query latency of the
inverted file (median and p99 of single queries) against the 10 ms target with its recall@5
against the exact search, and the exact search's latency.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from jepaworld.images import png_bytes
from jepaworld.memory import MemoryHeader, MemoryStore, NearestIndex, StateRow


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--episodes", type=int, default=10_000)
    ap.add_argument("--frames", type=int, default=21, help="model frames per episode (101 steps / frameskip 5)")
    ap.add_argument("--dim", type=int, default=192)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--embeddings", choices=("manifold", "gaussian"), default="manifold")
    ap.add_argument("--dir", default=None, help="where to write the file (default: a temporary folder)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    rng = np.random.default_rng(0)
    thumb = png_bytes(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8))
    embed = Embedder(args.dim, args.embeddings, rng)
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        path = Path(tmp) / "memory.sqlite"
        header = MemoryHeader(env="tworoom", resolution=64, embed_dim=args.dim, frameskip=5, run="", step=0)
        t0 = time.perf_counter()
        with MemoryStore.create(path, header) as store:
            for e0 in range(0, args.episodes, 50):
                rows, links = [], []
                for e in range(e0, min(e0 + 50, args.episodes)):
                    z = embed.episode(args.frames)
                    s = rng.uniform(0, 224, (args.frames, 2)).astype(np.float32)
                    first = len(rows)
                    rows += [StateRow("bench", e, 5 * k, z[k], s[k], thumb) for k in range(args.frames)]
                    links += [(first + k, first + k + 1) for k in range(args.frames - 1)]
                with store.transaction():
                    ids = store.add_states(rows)
                    store.add_transitions([(ids[a], ids[b], np.zeros((5, 2), np.float32)) for a, b in links])
                    store.mark_built("bench", range(e0, min(e0 + 50, args.episodes)))
        write_s = time.perf_counter() - t0
        n = args.episodes * args.frames
        size_mb = sum(p.stat().st_size for p in Path(tmp).iterdir()) / 1e6
        t0 = time.perf_counter()
        with MemoryStore.open(path) as store:
            index = NearestIndex(*store.embeddings())
        open_s = time.perf_counter() - t0
        q = np.concatenate([embed.episode(args.frames) for _ in range(-(-args.queries // args.frames))])
        q = q[: args.queries]
        index.search(q[0], k=5)  # warm-up
        single, exact, hits = [], [], 0
        for i in range(args.queries):
            t = time.perf_counter()
            got, _ = index.search(q[i], k=5)
            single.append(1000 * (time.perf_counter() - t))
            t = time.perf_counter()
            truth, _ = index.search(q[i][None], k=5, exact=True)
            exact.append(1000 * (time.perf_counter() - t))
            hits += len(set(got.tolist()) & set(truth[0].tolist()))
    print(f"memory of {args.episodes:,} episodes = {n:,} states (D = {args.dim}), torch threads {args.threads}")
    print(f"  write: {write_s:.1f} s ({n / write_s:,.0f} states/s, one transaction per 50 episodes); "
          f"file {size_mb:.0f} MB")  # fmt: skip
    print(f"  reopen + index: {open_s:.2f} s")
    med, p99 = np.percentile(single, 50), np.percentile(single, 99)
    kind = f"inverted file ({len(index.centroids)} lists, {index.probes} probed)" if index.ivf else "exact"
    print(f"  nearest-5 query, {kind}: median {med:.2f} ms, p99 {p99:.2f} ms (target < 10 ms: "
          f"{'met' if p99 < 10 else 'NOT met'}); recall@5 vs exact {hits / (5 * args.queries):.3f}")  # fmt: skip
    print(f"  exact search (one GEMV over all states): median {np.percentile(exact, 50):.1f} ms")


class Embedder:
    """Synthetic episodes' embeddings (T, D): a 2-D random walk through a fixed random network, or Gaussian."""

    def __init__(self, dim: int, kind: str, rng: np.random.Generator) -> None:
        self.kind, self.rng, self.dim = kind, rng, dim
        self.w1 = rng.standard_normal((2, 64)).astype(np.float32) * 3
        self.b1 = rng.uniform(-3, 3, 64).astype(np.float32)
        self.w2 = rng.standard_normal((64, dim)).astype(np.float32) / 8

    def episode(self, frames: int) -> np.ndarray:
        if self.kind == "gaussian":
            return self.rng.standard_normal((frames, self.dim), dtype=np.float32)
        p = np.clip(self.rng.uniform(0, 1, 2) + np.cumsum(self.rng.normal(0, 0.05, (frames, 2)), 0), 0, 1)
        z = np.tanh(p.astype(np.float32) @ self.w1 + self.b1) @ self.w2
        return (z + 0.01 * self.rng.standard_normal(z.shape)).astype(np.float32)


if __name__ == "__main__":
    main()
