"""Projector: Linear -> BatchNorm1d -> GELU -> Linear.

BatchNorm, not LayerNorm: a LayerNorm right before SIGReg would pin every embedding's norm and
keep the embeddings from becoming an isotropic Gaussian.
"""

from __future__ import annotations

from torch import Tensor, nn


class Projector(nn.Module):
    """x: (..., in_dim) -> (..., out_dim); leading dims are flattened into one BatchNorm batch."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.GELU(), nn.Linear(hidden, out_dim)
        )

    def forward(self, x: Tensor) -> Tensor:
        lead = x.shape[:-1]
        return self.net(x.reshape(-1, x.shape[-1])).reshape(*lead, -1)
