"""Warm starts for model-predictive control with a receding horizon."""

from __future__ import annotations

import torch
from torch import Tensor

from jepaworld.errors import JepaworldError


def shift_plan(plan: Tensor, n_executed_blocks: int) -> Tensor:
    """Drop the executed blocks of a plan (B, H, D) and pad the tail with zeros -> (B, H, D).

    Zeros are the dataset-mean action in normalised space. Executing the whole plan
    (n_executed_blocks >= H, the published receding horizon) leaves an all-zero init.
    """
    if n_executed_blocks < 0:
        raise JepaworldError(f"n_executed_blocks must be >= 0, got {n_executed_blocks}")
    if plan.dim() != 3:
        raise JepaworldError(f"plan must be (B, H, D), got shape {tuple(plan.shape)}")
    n = min(n_executed_blocks, plan.shape[1])
    return torch.cat([plan[:, n:], torch.zeros_like(plan[:, :n])], dim=1)
