"""Frames to embeddings in chunks: the batched encoding that probes, memory, surprise and tools share."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


@torch.inference_mode()
def encode(model: Any, pixels: np.ndarray | torch.Tensor, chunk: int = 512,
           progress: Progress | None = None, stage: str = "encoding") -> torch.Tensor:  # fmt: skip
    """uint8 frames (..., H, W, 3) -> embeddings (..., D) on the model's device, ``chunk`` frames a call."""
    x = torch.as_tensor(np.ascontiguousarray(pixels) if isinstance(pixels, np.ndarray) else pixels)
    lead, flat = x.shape[:-3], x.reshape(-1, *x.shape[-3:])
    device = model_device(model)
    out = []
    for i in range(0, len(flat), chunk):
        out.append(model.encode(flat[i : i + chunk].to(device)[:, None])[:, 0])
        if progress:
            progress(stage, min(i + chunk, len(flat)), len(flat))
    z = torch.cat(out) if out else torch.zeros(0, 0, device=device)
    return z.reshape(*lead, -1)
