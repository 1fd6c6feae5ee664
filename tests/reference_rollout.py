"""The straightforward rollout that the model's rollout paths are checked against.

At every step the predictor runs over the whole sequence so far (RoPE: the band keeps it equal to a
KV-cached rollout) or over the last ``history`` tokens (learned positions: the published sliding
window), and its prediction is appended. No cache, no shared prefix, no folded weights: slow and
plainly right. ``benchmarks/plan_speed.py`` and ``benchmarks/model_speed.py`` time it as the baseline.
"""

from __future__ import annotations

import torch
from torch import Tensor

from jepaworld.model import WorldModel


def reference_rollout(wm: WorldModel, z_hist: Tensor, blocks: Tensor, hist_blocks: Tensor | None = None) -> Tensor:
    """What ``wm.rollout`` computes. z_hist: (B, h, D), blocks: (B, H, fs*A) -> (B, H, D).

    hist_blocks: (B, h-1, fs*A), the blocks taken after each history frame but the last (zeros if None).
    """
    B, h, _ = z_hist.shape
    if hist_blocks is None:
        hist_blocks = blocks.new_zeros(B, h - 1, blocks.shape[-1])
    c = wm.action_encoder(torch.cat([hist_blocks, blocks], dim=1))  # (B, h-1+H, D): c[:, t] after token t
    rope = wm.predictor.pos_embedding == "rope"
    seq, preds = z_hist, []
    for i in range(blocks.shape[1]):
        n = h + i  # tokens so far; the last one carries action c[:, n-1]
        w = n if rope else min(n, wm.history)
        y = wm.predictor(seq[:, n - w :], c[:, n - w : n])[:, -1]
        preds.append(wm.pred_projector(y))
        seq = torch.cat([seq, preds[-1][:, None]], dim=1)
    return torch.stack(preds, dim=1)


def reference_cost(
    wm: WorldModel,
    z_start: Tensor,
    z_goal: Tensor,
    blocks: Tensor,
    mode: str = "terminal",
    hist_blocks: Tensor | None = None,
) -> Tensor:
    """What ``wm.cost`` computes, by ``reference_rollout`` of every candidate on its own row.

    z_start: (B, h, D) or (B, D), z_goal: (B, D), blocks: (B, S, H, fs*A) -> (B, S).
    """
    if z_start.dim() == 2:
        z_start = z_start[:, None]
    B, S, H, _ = blocks.shape
    h, D = z_start.shape[1:]

    def rows(x: Tensor) -> Tensor:  # (B, ...) -> (B*S, ...)
        return x[:, None].expand(B, S, *x.shape[1:]).reshape(B * S, *x.shape[1:])

    hb = None if hist_blocks is None else rows(hist_blocks)
    z = reference_rollout(wm, rows(z_start), blocks.reshape(B * S, H, -1), hb).view(B, S, H, D).float()
    dist = (z - z_goal[:, None, None]).square().sum(-1)  # (B, S, H)
    return dist[..., -1] if mode == "terminal" else dist.min(dim=-1).values
