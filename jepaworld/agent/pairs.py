"""Training pairs for the policy: (latent history, goal embedding) -> target block.

Starts and goals come from the run's *training* episodes (never the held-out ones evaluation draws
from): a start frame t and a goal k blocks later (k uniform in 1..max_k). ``hindsight`` labels a
pair with the block the dataset actually executed from t, relabelled toward the state it reached;
the planner labels it later (``distill``).

    enc = encode_episodes(model, n_episodes, seed)            # z of every frame of some training episodes
    labels = sample_pairs(enc, n, max_k, rng)                 # hindsight targets
    labels.save(path); Labels.load(path); Labels.cat([a, b])
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.atomic import atomic_path
from jepaworld.errors import JepaworldError
from jepaworld.run.episodes import training_episodes

Progress = Callable[[str, int, int], None]  # (stage, done, total)


@dataclass
class Labels:
    """N examples: z_hist (N, h, D), hist_blocks (N, h-1, fs*A), z_goal (N, D), target (N, fs*A), all float32."""

    z_hist: np.ndarray
    hist_blocks: np.ndarray
    z_goal: np.ndarray
    target: np.ndarray

    def __len__(self) -> int:
        return len(self.z_goal)

    def tensors(self, device: torch.device | str = "cpu") -> tuple[torch.Tensor, ...]:
        return tuple(torch.as_tensor(a, device=device) for a in (self.z_hist, self.hist_blocks, self.z_goal,
                                                                 self.target))  # fmt: skip

    def subset(self, idx: np.ndarray) -> Labels:
        return Labels(self.z_hist[idx], self.hist_blocks[idx], self.z_goal[idx], self.target[idx])

    @staticmethod
    def cat(parts: list[Labels]) -> Labels:
        return Labels(*(np.concatenate([getattr(p, k) for p in parts]) for k in ("z_hist", "hist_blocks", "z_goal",
                                                                                 "target")))  # fmt: skip

    def save(self, path: str | Path) -> None:
        """``.npz``, written to a temp file and renamed (a kill never leaves half a file)."""
        with atomic_path(path) as tmp:
            np.savez(tmp, z_hist=self.z_hist, hist_blocks=self.hist_blocks, z_goal=self.z_goal, target=self.target)

    @staticmethod
    def load(path: str | Path) -> Labels:
        with np.load(path) as d:
            return Labels(d["z_hist"], d["hist_blocks"], d["z_goal"], d["target"])


@dataclass
class EncodedEpisodes:
    """Embeddings of every frame of some episodes, and their normalised actions.

    z (R, D) and actions (R, A) row-aligned, episode e's rows at ``starts[e] : starts[e] + lengths[e]``.
    """

    z: np.ndarray
    actions: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    frameskip: int
    history: int


@torch.inference_mode()
def encode_episodes(model: Any, n_episodes: int, seed: int, progress: Progress | None = None) -> EncodedEpisodes:
    """Encode every frame of ``n_episodes`` training episodes (a seeded draw)."""
    meta = model.meta
    f, train = training_episodes(model.meta, "the policy is distilled from")
    rng = np.random.default_rng(seed)
    ids = sorted(rng.choice(train, min(n_episodes, len(train)), replace=False).tolist())
    offs, lens = np.asarray(f.ep_offset), np.asarray(f.ep_len)
    device = next(model.parameters()).device
    zs, acts, starts, lengths, row = [], [], [], [], 0
    for i, e in enumerate(ids):
        sl = slice(int(offs[e]), int(offs[e] + lens[e]))
        px = torch.as_tensor(np.ascontiguousarray(f.pixels[sl]), device=device)
        zs.append(model.encode(px[:, None])[:, 0].float().cpu().numpy())
        acts.append(meta.normalizer.normalize_action(np.asarray(f.action[sl], np.float32)))
        starts.append(row)
        lengths.append(int(lens[e]))
        row += int(lens[e])
        if progress:
            progress("encoding training episodes", i + 1, len(ids))
    return EncodedEpisodes(z=np.concatenate(zs), actions=np.concatenate(acts).astype(np.float32),
                           starts=np.asarray(starts), lengths=np.asarray(lengths), frameskip=meta.frameskip,
                           history=meta.history)  # fmt: skip


def sample_pairs(enc: EncodedEpisodes, n: int, max_k: int, rng: np.random.Generator) -> Labels:
    """``n`` (start, goal k blocks later) pairs, k uniform in 1..max_k, labelled in hindsight with the block the
    dataset executed from the start (what reached the goal). Starts leave room for ``history`` frames before."""
    fs, h = enc.frameskip, enc.history
    first = (h - 1) * fs  # earliest start with a full history
    room = enc.lengths - 1 - first  # steps between the earliest start and the last frame
    k_max = min(max_k, int(room.max()) // fs)  # goals no episode is long enough for are never drawn
    if k_max < 1:
        raise JepaworldError(f"episodes of {int(enc.lengths.max())} frames are too short for a start with "
                             f"{h} history frames and a goal one block of {fs} steps later")  # fmt: skip
    ks = rng.integers(1, k_max + 1, n)
    hist, goal = np.empty((n, h), np.int64), np.empty(n, np.int64)
    for i, k in enumerate(ks):
        span = int(k) * fs
        ok = np.flatnonzero(room >= span)
        e = int(ok[rng.integers(len(ok))])
        t = enc.starts[e] + first + int(rng.integers(room[e] - span + 1))
        hist[i] = t - fs * np.arange(h - 1, -1, -1)
        goal[i] = t + span
    A = enc.actions.shape[1]

    def block(rows: np.ndarray) -> np.ndarray:  # rows (...,) -> the block executed from each row (..., fs*A)
        idx = rows[..., None] + np.arange(fs)
        return enc.actions[idx].reshape(*rows.shape, fs * A)

    return Labels(z_hist=enc.z[hist], hist_blocks=block(hist[:, :-1]), z_goal=enc.z[goal],
                  target=block(hist[:, -1]))  # fmt: skip
