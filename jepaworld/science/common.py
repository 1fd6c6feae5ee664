"""What the science commands share: the run's episodes, embeddings computed in chunks, output folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.data import EpisodeFile
from jepaworld.errors import JepaworldError

Progress = Callable[[str, int, int], None]  # (stage, done, total)


def model_device(model: Any) -> torch.device:
    return next(model.parameters()).device


def checkpoint_name(model: Any) -> str:
    return str(getattr(model, "checkpoint_path", ""))


def default_out(model: Any, command: str) -> Path:
    """``RUN/science/<command>`` for a model loaded from ``RUN`` (or one of its checkpoints)."""
    ck = getattr(model, "checkpoint_path", None)
    if ck is None:
        raise JepaworldError(f"this model was not loaded from a run; pass an output folder for {command}")
    return Path(ck).parent.parent / "science" / command


def held_out(model: Any, data_path: str | None, episodes: int, seed: int) -> tuple[EpisodeFile, list[int], str]:
    """Up to ``episodes`` held-out episode ids (a seeded draw, sorted), their file, and how to name them.

    ``data_path``: a separate episode file whose every episode counts as held out (as ``jepaworld eval
    --data``); None: the run's own held-out episodes.
    """
    from jepaworld.run.episodes import held_out_episodes

    if episodes < 1:
        raise JepaworldError(f"--episodes must be >= 1, got {episodes}")
    f, ids, where = held_out_episodes(model.meta, data_path)
    if len(ids) > episodes:
        ids = sorted(np.random.default_rng(seed).choice(ids, episodes, replace=False).tolist())
    return f, [int(i) for i in ids], where


def training_episodes(model: Any) -> tuple[EpisodeFile, list[int]]:
    """The run's episode file and its training episodes; probes also need held-out ones to score on."""
    from jepaworld.run.episodes import training_episodes as run_training_episodes

    if not model.meta.held_out:
        raise JepaworldError("the run holds out no episodes (data.val_fraction=0); probes need held-out episodes")
    return run_training_episodes(model.meta, "probes fit on")


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
