"""Surprise: how far an observed frame's embedding is from what the model predicted for it.

Per step, ``surprise_t = ||z_hat_t - z_t||^2`` (summed over embedding dims), where ``z_t`` is the
embedding of frame ``t`` and ``z_hat_t`` the model's one-block-ahead prediction from the frames
before it (the last ``history`` of them; fewer at the start, as in training windows) and the action
block executed between frame ``t-1`` and frame ``t``.

    s = surprise_signal(wm, frames, actions)   # frames uint8 (B, T, H, W, 3), raw actions (B, (T-1)*fs, A)
                                               # -> (B, T-1): column j is the surprise of frame j+1
    meter = SurpriseMeter(wm)                  # the same signal step by step (the agent's surprise guard)
    meter.update(obs)                          # first frame: nan
    s = meter.update(obs, executed_block)      # raw (fs, A) or (B, fs, A) -> float or (B,)

``wm`` is a loaded model (``jepaworld.load``): its ``meta`` gives the action normaliser and layout.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from jepaworld.errors import JepaworldError
from jepaworld.model.encode import encode, model_device


def _blocks(model: Any, actions: np.ndarray, n_blocks: int) -> torch.Tensor:
    """Raw actions (B, n_blocks*fs, A) -> z-scored blocks (B, n_blocks, fs*A) on the model's device,
    flattened step-major as training windows are."""
    meta = model.meta
    fs, A = meta.frameskip, meta.action_dim
    a = np.asarray(actions, np.float32)
    if a.ndim != 3 or a.shape[1:] != (n_blocks * fs, A):
        raise JepaworldError(
            f"actions must be raw env actions shaped (B, (T-1)*frameskip, A) = (B, {n_blocks * fs}, {A}) for "
            f"{n_blocks + 1} frames, got {tuple(a.shape)}"
        )
    blocks = meta.normalizer.normalize_action(a.reshape(len(a), n_blocks, fs * A))
    return torch.as_tensor(blocks, device=model_device(model))


def _check_frames(model: Any, frames: np.ndarray, what: str = "(T, H, W, 3) or (B, T, H, W, 3)") -> None:
    """uint8 frames at the checkpoint's resolution, with one or two leading dims (``what`` names them)."""
    res = model.meta.resolution
    if frames.dtype != np.uint8 or frames.ndim < 4 or frames.shape[-3:] != (res, res, 3):
        raise JepaworldError(
            f"frames must be uint8 {what} with H = W = {res} (this checkpoint's resolution), got "
            f"{frames.dtype} {tuple(frames.shape)}"
        )


@torch.inference_mode()
def one_step_surprise(model: Any, z: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
    """z (B, T, D), blocks (B, T-1, fs*A) -> ||z_hat_t - z_t||^2 for t = 1..T-1: (B, T-1)."""
    B, T, D = z.shape
    h = model.history
    out = z.new_empty(B, T - 1)
    for t in range(1, min(h, T)):  # fewer than `history` frames before t: the history grows from frame 0
        pred = model.rollout(z[:, :t], blocks[:, t - 1 : t], blocks[:, : t - 1])[:, 0]
        out[:, t - 1] = (pred - z[:, t]).square().sum(-1)
    ts = list(range(h, T))
    if ts:  # every later frame, all in one batch
        z_hist = torch.stack([z[:, t - h : t] for t in ts], 1).reshape(-1, h, D)
        hist_blocks = torch.stack([blocks[:, t - h : t - 1] for t in ts], 1).reshape(
            B * len(ts), h - 1, blocks.shape[-1]
        )
        block = torch.stack([blocks[:, t - 1] for t in ts], 1).reshape(B * len(ts), 1, blocks.shape[-1])
        pred = model.rollout(z_hist, block, hist_blocks)[:, 0].reshape(B, len(ts), D)
        out[:, h - 1 :] = (pred - z[:, h:]).square().sum(-1)
    return out


def surprise_signal(model: Any, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
    """Per-step surprise of a trajectory or a batch (see the module docstring).

    frames: uint8 (T, H, W, 3) or (B, T, H, W, 3); actions: the raw env actions executed between them,
    ((T-1)*frameskip, A) or (B, (T-1)*frameskip, A). Returns (T-1,) or (B, T-1) float32: entry t-1 is the
    surprise of frame t.
    """
    frames = np.asarray(frames)
    single = frames.ndim == 4
    if single:
        frames, actions = frames[None], np.asarray(actions)[None]
    _check_frames(model, frames)
    if frames.ndim != 5 or frames.shape[1] < 2:
        raise JepaworldError(
            f"surprise needs frames (T >= 2, H, W, 3) or (B, T >= 2, H, W, 3), got {tuple(frames.shape)}"
        )
    blocks = _blocks(model, actions, frames.shape[1] - 1)
    if len(blocks) != len(frames):
        raise JepaworldError(f"{len(frames)} trajectories of frames but {len(blocks)} of actions")
    s = one_step_surprise(model, encode(model, frames), blocks).float().cpu().numpy()
    return s[0] if single else s


class SurpriseMeter:
    """The surprise signal one frame at a time, for one environment or a batch of B.

    ``update(obs)`` with the first frame returns nan (nothing was predicted); every later call
    ``update(obs, executed_block)`` takes the frame seen after executing ``executed_block`` (raw actions
    (fs, A), or (B, fs, A)) and returns its surprise: a float, or (B,). It keeps the last ``history``
    embeddings and the blocks between them; ``reset()`` starts a new episode.
    """

    def __init__(self, model: Any) -> None:
        self.model = model
        self.reset()

    def reset(self) -> None:
        self._z: torch.Tensor | None = None  # (B, n <= history, D)
        self._blocks: torch.Tensor | None = None  # (B, n - 1, fs*A)

    @property
    def embedding(self) -> torch.Tensor | None:
        """The embedding (B, D) of the frame given to the last ``update`` (None before one): a caller
        that also needs it (a policy acting on it) does not encode the frame again."""
        return None if self._z is None else self._z[:, -1]

    @torch.inference_mode()
    def update(self, obs: np.ndarray, executed_block: np.ndarray | None = None) -> float | np.ndarray:
        obs = np.asarray(obs)
        single = obs.ndim == 3
        batch = obs[None] if single else obs
        if batch.ndim != 4:
            raise JepaworldError(f"obs must be one frame (H, W, 3) or a batch (B, H, W, 3), got {tuple(obs.shape)}")
        _check_frames(self.model, batch, "(H, W, 3) or (B, H, W, 3)")
        z = encode(self.model, batch)  # (B, D)
        if self._z is None or self._blocks is None:  # both None until the first frame
            self._z = z[:, None]
            self._blocks = z.new_zeros(len(z), 0, self.model.meta.frameskip * self.model.meta.action_dim)
            s = np.full(len(z), np.nan, np.float32)
            return float(s[0]) if single else s
        if executed_block is None:
            raise JepaworldError("update(obs, executed_block): the block executed since the last frame is needed")
        eb = np.asarray(executed_block, np.float32)
        block = _blocks(self.model, eb[None] if single else eb, 1)  # (B, 1, fs*A)
        if len(block) != len(z) or len(z) != len(self._z):
            raise JepaworldError(f"batch sizes differ: {len(self._z)} environments so far, now {len(z)} frames "
                                 f"and {len(block)} blocks; call reset() for a new batch")  # fmt: skip
        pred = self.model.rollout(self._z, block, self._blocks)[:, 0]
        s = (pred - z).square().sum(-1).float().cpu().numpy()
        h = self.model.history
        self._z = torch.cat([self._z, z[:, None]], 1)[:, -h:]
        blocks = torch.cat([self._blocks, block], 1)  # keep the blocks between the frames kept
        self._blocks = blocks[:, blocks.shape[1] - (self._z.shape[1] - 1) :]
        return float(s[0]) if single else s
