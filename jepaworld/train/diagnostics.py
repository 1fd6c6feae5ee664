"""Collapse diagnostics for embeddings: per-dimension spread and effective rank."""

from __future__ import annotations

import torch


@torch.no_grad()
def embedding_stats(z: torch.Tensor) -> dict[str, float]:
    """Spread of a batch of embeddings.

    z: (N, D) or (B, T, D) (flattened to N = B*T).
    Returns the mean and minimum per-dimension std and the effective rank: exp of the entropy of
    the normalised singular values of the centred batch (D for isotropic, 1 for a line, ~0 spread
    for a collapsed point).
    """
    z = z.detach().float().reshape(-1, z.shape[-1])
    std = z.std(dim=0)
    s = torch.linalg.svdvals(z - z.mean(dim=0, keepdim=True))
    p = s / s.sum().clamp_min(1e-12)
    entropy = -(p * torch.log(p.clamp_min(1e-12))).sum()
    return {
        "z_std_mean": float(std.mean()),
        "z_std_min": float(std.min()),
        "eff_rank": float(torch.exp(entropy)),
    }
