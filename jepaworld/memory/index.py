"""Nearest remembered states to an embedding: exact search, or an inverted-file index for large memories.

Exact: ``||q - z||^2 = ||q||^2 - 2 q.z + ||z||^2`` with the squared norms of the remembered
embeddings computed once; one float32 GEMM and ``topk``. A single query against N states reads
all N x D floats, so it is memory-bound: ~100 ms at 210,000 x 192 on a busy 2-core machine. The
expansion cancels for near-identical embeddings, so the k + 8 best by it are re-ranked by the direct
``||q - z||^2``: the distances returned are exact to float32 rounding of the distance itself.

Inverted file (IVF), used for single queries once N > ``exact_limit``: k-means (``lists`` = 2 sqrt(N)
centroids, fitted on a subsample) splits the states into lists stored contiguously; a query scans the
``probes`` lists whose centroids are nearest and ranks their states exactly. It is approximate:
``benchmarks/memory_query.py`` prints its recall against the exact search beside its latency.
Batched queries (the route graph's neighbour lists) always run exact, where the GEMM is efficient.
"""

from __future__ import annotations

import math

import numpy as np
import torch

RERANK = 8  # extra candidates of the GEMM ranking re-ranked by direct distances (near-ties at the k-th)


class NearestIndex:
    """k-nearest-neighbour search over embeddings z (N, D) with ids (N,) (see the module docstring)."""

    def __init__(self, ids: np.ndarray, z: np.ndarray, exact_limit: int = 50_000, probes: int = 16,
                 seed: int = 0) -> None:  # fmt: skip
        self.ids = np.asarray(ids, np.int64)
        self.z = torch.as_tensor(np.ascontiguousarray(z, dtype=np.float32))
        self.sq = (self.z * self.z).sum(1)  # (N,)
        self.row = {int(i): k for k, i in enumerate(self.ids)}
        self.probes = probes
        self.ivf = len(self.ids) > exact_limit
        if self.ivf:
            self._build_ivf(seed)

    def __len__(self) -> int:
        return len(self.ids)

    @torch.inference_mode()
    def search(self, q: np.ndarray | torch.Tensor, k: int = 1,
               exact: bool | None = None) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """q (Q, D) or (D,) -> (ids (Q, k), squared distances (Q, k)), nearest first.

        exact: None = the inverted file for a single query on a large memory, exact otherwise."""
        qt = torch.as_tensor(q, dtype=torch.float32).cpu()
        single = qt.dim() == 1
        qt = qt[None] if single else qt
        k = min(k, len(self.ids))
        if (exact is False or (exact is None and single)) and self.ivf:
            rows, dist = self._search_ivf(qt[0], k)
            return (self.ids[rows], dist) if single else (self.ids[rows][None], dist[None])
        d = torch.addmm(self.sq[None], qt, self.z.T, alpha=-2.0).add_((qt * qt).sum(1, keepdim=True))
        candidates = torch.topk(d, min(len(self.ids), k + RERANK), dim=1, largest=False).indices
        nearest, dist_t = self._rerank(qt, candidates, k)
        ids, dists = self.ids[nearest.numpy()], dist_t.numpy()
        return (ids[0], dists[0]) if single else (ids, dists)

    def _rerank(self, q: torch.Tensor, rows: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        """The ``k`` nearest of candidate ``rows`` (Q, C) by ``||q - z||^2`` computed directly: exact for
        near-identical embeddings, where the expansion's cancellation leaves ~1e-7 x ||z||^2."""
        dist = (self.z[rows] - q[:, None]).square_().sum(-1)  # (Q, C)
        dist, pos = torch.topk(dist, k, dim=1, largest=False)
        return rows.gather(1, pos), dist

    def vectors(self, ids: np.ndarray) -> torch.Tensor:
        """Embeddings (len(ids), D) of remembered ids."""
        return self.z[[self.row[int(i)] for i in np.asarray(ids).reshape(-1)]]

    # ------------------------------------------------------------------------------ inverted file
    def _build_ivf(self, seed: int, iters: int = 8) -> None:
        n = len(self.ids)
        lists = int(2 * math.sqrt(n))
        g = torch.Generator().manual_seed(seed)
        sample = self.z[torch.randperm(n, generator=g)[: min(n, 16 * lists)]]
        c = sample[torch.randperm(len(sample), generator=g)[:lists]].clone()
        for _ in range(iters):  # Lloyd's k-means on the subsample
            assign = self._nearest_centroid(sample, c)
            sums = torch.zeros_like(c).index_add_(0, assign, sample)
            counts = torch.bincount(assign, minlength=lists)[:, None]
            c = torch.where(counts > 0, sums / counts.clamp_min(1), c)  # an empty list keeps its centroid
        assign = torch.cat([self._nearest_centroid(self.z[i : i + 65536], c) for i in range(0, n, 65536)])
        order = torch.argsort(assign, stable=True)
        self.centroids, self.csq = c, (c * c).sum(1)
        self.list_rows = order  # rows of z grouped by list
        self.list_z, self.list_sq = self.z[order], self.sq[order]
        bounds = torch.bincount(assign, minlength=lists).cumsum(0)
        self.list_start = torch.cat([torch.zeros(1, dtype=bounds.dtype), bounds[:-1]]).numpy()
        self.list_end = bounds.numpy()

    @staticmethod
    def _nearest_centroid(x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
        return torch.addmm((c * c).sum(1)[None], x, c.T, alpha=-2.0).argmin(1)

    def _search_ivf(self, q: torch.Tensor, k: int) -> tuple[np.ndarray, np.ndarray]:
        dc = self.csq - 2 * (self.centroids @ q)
        lists = torch.topk(dc, min(self.probes, len(dc)), largest=False).indices.numpy()
        spans = [np.arange(self.list_start[i], self.list_end[i]) for i in lists]
        cand = torch.as_tensor(np.concatenate(spans))
        d = self.list_sq[cand] - 2 * (self.list_z[cand] @ q) + (q * q).sum()
        kk = min(k, len(cand))
        pos = torch.topk(d, min(kk + RERANK, len(cand)), largest=False).indices
        rows, dist = self._rerank(q[None], self.list_rows[cand[pos]][None], kk)
        return rows[0].numpy(), dist[0].numpy()
