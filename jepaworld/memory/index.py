"""Nearest remembered states to an embedding: exact search, one matrix product.

``||q - z||^2 = ||q||^2 - 2 q.z + ||z||^2`` with the squared norms of the remembered embeddings
computed once; the product runs as one float32 GEMM and ``topk`` picks the k nearest. Exact, so
no recall to tune; ``benchmarks/memory_query.py`` times it at 10,000 episodes' states.
"""

from __future__ import annotations

import numpy as np
import torch


class NearestIndex:
    """Exact k-nearest-neighbour search over embeddings z (N, D) with ids (N,)."""

    def __init__(self, ids: np.ndarray, z: np.ndarray) -> None:
        self.ids = np.asarray(ids, np.int64)
        self.z = torch.as_tensor(np.ascontiguousarray(z, dtype=np.float32))
        self.sq = (self.z * self.z).sum(1)  # (N,)
        self.row = {int(i): k for k, i in enumerate(self.ids)}

    def __len__(self) -> int:
        return len(self.ids)

    @torch.inference_mode()
    def search(self, q: np.ndarray | torch.Tensor, k: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """q (Q, D) or (D,) -> (ids (Q, k), squared distances (Q, k)), nearest first."""
        q = torch.as_tensor(q, dtype=torch.float32).cpu()
        single = q.dim() == 1
        q = q[None] if single else q
        d = torch.addmm(self.sq[None], q, self.z.T, alpha=-2.0).add_((q * q).sum(1, keepdim=True))
        k = min(k, len(self.ids))
        dist, rows = torch.topk(d, k, dim=1, largest=False)
        ids, dist = self.ids[rows.numpy()], dist.clamp_min_(0).numpy()
        return (ids[0], dist[0]) if single else (ids, dist)

    def vectors(self, ids: np.ndarray) -> torch.Tensor:
        """Embeddings (len(ids), D) of remembered ids."""
        return self.z[[self.row[int(i)] for i in np.asarray(ids).reshape(-1)]]
