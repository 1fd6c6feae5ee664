"""Z-scoring of actions with training-set statistics, and the train/val split."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jepaworld.errors import JepaworldError

EPS = 1e-6


@dataclass
class Normalizer:
    """Per-dimension mean/std of raw actions ``(A,)``.

    ``normalize_action`` accepts any array or tensor whose last dim is a multiple of ``A``
    (a raw action ``(..., A)`` or a flattened block of ``k`` actions ``(..., k*A)``).
    """

    action_mean: np.ndarray
    action_std: np.ndarray

    @classmethod
    def fit(cls, action: np.ndarray, ep_len: np.ndarray, ep_offset: np.ndarray, episode_ids: np.ndarray) -> Normalizer:
        """Statistics over the rows of ``episode_ids``; each episode's zero-padded last action is left out."""
        ids = np.asarray(episode_ids, np.int64)
        if len(ids) == 0:
            raise JepaworldError("Normalizer.fit needs at least one episode")
        lens, offs = np.asarray(ep_len)[ids], np.asarray(ep_offset)[ids]
        rows = _rows(offs, np.maximum(lens - 1, 0))
        if len(rows) == 0:  # only 1-row episodes: no real actions
            rows = _rows(offs, lens)
        a = np.asarray(action)[rows]
        return cls(a.mean(0), a.std(0) + EPS)

    @classmethod
    def identity(cls, action_dim: int) -> Normalizer:
        return cls(np.zeros(action_dim), np.ones(action_dim))

    def __post_init__(self) -> None:
        for name in ("action_mean", "action_std"):
            setattr(self, name, np.asarray(getattr(self, name), np.float32).reshape(-1))

    @property
    def action_dim(self) -> int:
        return len(self.action_mean)

    def normalize_action(self, a):
        return _affine(a, self.action_mean, self.action_std, inverse=False)

    def denormalize_action(self, a):
        return _affine(a, self.action_mean, self.action_std, inverse=True)

    def to_dict(self) -> dict[str, list[float]]:
        return {k: getattr(self, k).tolist() for k in ("action_mean", "action_std")}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Normalizer:
        """From :meth:`to_dict`; other keys (older checkpoints also stored state statistics) are ignored."""
        return cls(d["action_mean"], d["action_std"])


def _rows(offs: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """Row indices of every episode slice ``[off, off + len)``, concatenated."""
    if len(lens) == 0 or lens.sum() == 0:
        return np.zeros(0, np.int64)
    starts = np.repeat(offs - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens)
    return starts + np.arange(int(lens.sum()))


def _affine(x, mean: np.ndarray, std: np.ndarray, inverse: bool):
    d = len(mean)
    if x.shape[-1] % d:
        raise JepaworldError(f"last dim {x.shape[-1]} is not a multiple of the action dim {d}")
    reps = x.shape[-1] // d
    m, s = np.tile(mean, reps), np.tile(std, reps)
    if not isinstance(x, np.ndarray):  # a torch tensor
        import torch

        mt = torch.as_tensor(m, dtype=x.dtype, device=x.device)
        st = torch.as_tensor(s, dtype=x.dtype, device=x.device)
        return x * st + mt if inverse else (x - mt) / st
    x = np.asarray(x, np.float32)
    return (x * s + m if inverse else (x - m) / s).astype(np.float32)


def split_episodes(n_episodes: int, val_fraction: float, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic random split: ``(train_ids, val_ids)``, both sorted int64; at least one of each
    when ``0 < val_fraction`` and ``n_episodes >= 2``."""
    if not 0 <= val_fraction < 1:
        raise JepaworldError(f"val_fraction must be in [0, 1), got {val_fraction}")
    perm = np.random.default_rng(seed).permutation(n_episodes)
    n_val = (
        0
        if val_fraction == 0 or n_episodes < 2
        else min(max(1, round(n_episodes * val_fraction)), n_episodes - 1)
    )
    return np.sort(perm[n_val:]).astype(np.int64), np.sort(perm[:n_val]).astype(np.int64)
