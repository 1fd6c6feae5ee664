"""Latent state the fast loop keeps: the last ``history`` embeddings and the blocks between them.

``LatentHistory`` follows ``LatentMPC``'s convention (the first frame stands in for the past, with
zero blocks), so that a plan made from it is the plan ``LatentMPC`` would make from the same frames.
``latent_rollout`` rolls the policy forward in latent space: the planner's warm start.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from jepaworld.agent.policy import PolicyNet


class LatentHistory:
    """z_hist (B, h, D) and hist_blocks (B, h-1, fs*A) of B environments, updated one frame at a time."""

    def __init__(self, history: int, block_dim: int) -> None:
        self.history, self.block_dim = history, block_dim
        self.z_hist: Tensor | None = None
        self.hist_blocks: Tensor | None = None

    def push(self, z: Tensor, executed: Tensor | None) -> None:
        """Append the embedding z (B, D) of a new frame, seen after the normalised block ``executed`` (B, fs*A)."""
        if self.z_hist is None or self.hist_blocks is None:
            self.z_hist = z[:, None].repeat(1, self.history, 1)
            self.hist_blocks = z.new_zeros(len(z), self.history - 1, self.block_dim)
            return
        self.z_hist = torch.cat([self.z_hist[:, 1:], z[:, None]], dim=1)
        if self.history > 1 and executed is not None:
            self.hist_blocks = torch.cat([self.hist_blocks[:, 1:], executed[:, None]], dim=1)

    @property
    def z(self) -> Tensor:
        """The newest embedding (B, D)."""
        assert self.z_hist is not None, "push a frame first"
        return self.z_hist[:, -1]


@torch.no_grad()
def latent_rollout(model: Any, policy: PolicyNet, z_hist: Tensor, hist_blocks: Tensor, z_goal: Tensor,
                   horizon: int) -> Tensor:  # fmt: skip
    """The policy's proposal: act, predict the next embedding, act again, ``horizon`` times.

    z_hist (N, h, D), hist_blocks (N, h-1, fs*A), z_goal (N, D) -> normalised blocks (N, horizon, fs*A);
    ``horizon`` policy calls and ``horizon - 1`` predictor steps per row.
    """
    blocks = []
    for i in range(horizon):
        a = policy.act(z_hist[:, -1], z_goal)
        blocks.append(a)
        if i + 1 < horizon:
            z_next = model.rollout(z_hist, a[:, None], hist_blocks)[:, 0]
            if z_hist.shape[1] > 1:
                hist_blocks = torch.cat([hist_blocks[:, 1:], a[:, None]], dim=1)
            z_hist = torch.cat([z_hist[:, 1:], z_next[:, None]], dim=1)
    return torch.stack(blocks, dim=1)
