"""Training windows with frame-skip: ``T = history + pred`` frames and their action blocks.

A window starting at row ``t`` of an episode holds frames ``t, t+fs, ..., t+(T-1)*fs`` and, for
each frame, the block of the ``fs`` raw actions that follow it, z-scored and flattened to
``fs*A``. A start is valid when ``t + (T-1)*fs <= L-1``; the last frame's block may run past the
episode's end, and those rows repeat the episode's zero-padded final action.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import torch

from jepaworld.data.episodes import DataError, EpisodeFile
from jepaworld.data.frames import FrameReader
from jepaworld.data.normalize import Normalizer
from jepaworld.errors import JepaworldError


class WindowSampler:
    """``WindowSampler(source, episode_ids, history, pred, frameskip, normalizer, in_memory=True)``.

    ``source``: an :class:`EpisodeFile`, a path, or a dict of arrays with ``pixels``, ``action``,
    ``ep_len``, ``ep_offset`` and optionally ``state`` (only ``with_state`` needs it). With
    ``in_memory`` the selected frames are copied to RAM once; otherwise pixels are read from disk
    per batch (:class:`~jepaworld.data.frames.FrameReader`: only the frames a batch needs are
    decoded). A sampler can be handed to ``DataLoader`` workers: a disk sampler's file handles are
    opened again in each process.
    """

    def __init__(
        self,
        source: EpisodeFile | str | os.PathLike | dict[str, Any],
        episode_ids,
        history: int,
        pred: int,
        frameskip: int,
        normalizer: Normalizer | None = None,
        in_memory: bool = True,
    ):
        if history < 1 or pred < 0 or frameskip < 1:
            raise JepaworldError(
                f"need history >= 1, pred >= 0, frameskip >= 1; got {history}, {pred}, {frameskip}"
            )
        if isinstance(source, (str, os.PathLike)):
            source = EpisodeFile(source)
        self.T, self.frameskip = history + pred, frameskip
        arrays = source if isinstance(source, dict) else source.arrays(pixels=False)
        ep_len = np.asarray(arrays["ep_len"], np.int64)
        ep_offset = np.asarray(arrays["ep_offset"], np.int64)
        ids = np.asarray(episode_ids, np.int64)
        if len(ids) and (ids.min() < 0 or ids.max() >= len(ep_len)):
            raise JepaworldError(
                f"episode ids must be in [0, {len(ep_len)}), got range [{ids.min()}, {ids.max()}]"
            )
        span = (self.T - 1) * frameskip
        n_starts = np.maximum(ep_len[ids] - span, 0)  # valid t: 0 .. L-1-span
        if n_starts.sum() == 0:
            raise DataError(
                f"no episode among {len(ids)} is long enough for windows of {self.T} frames with frameskip "
                f"{frameskip} (need >= {span + 1} rows); lower history/pred/frameskip "
                "or collect longer episodes"
            )
        # Rows are remapped so that the selected episodes are contiguous in RAM.
        keep = ids[n_starts > 0]
        self.episode_ids = keep  # the episodes windows are cut from (those long enough)
        lens, offs = ep_len[keep], ep_offset[keep]
        local_off = np.concatenate([[0], np.cumsum(lens)[:-1]])
        self._source_rows = np.concatenate([np.arange(o, o + n) for o, n in zip(offs, lens, strict=True)])
        self._starts = np.concatenate(
            [lo + np.arange(n) for lo, n in zip(local_off, n_starts[n_starts > 0], strict=True)]
        )
        self._last_row = np.repeat(local_off + lens - 1, lens - span)  # per start: its episode's last row
        action = np.asarray(arrays["action"], np.float32)[self._source_rows]
        self.normalizer = normalizer or Normalizer.identity(action.shape[1])
        self._action = self.normalizer.normalize_action(action)
        state = arrays.get("state")
        self._state = None if state is None else np.asarray(state, np.float32)[self._source_rows]
        self._file = None if isinstance(source, dict) else source
        self.reader: FrameReader | None = None  # the disk reader (None in memory)
        self._pixels: np.ndarray | None = None  # the selected frames in RAM (None: read from disk)
        if in_memory:
            pixels = source.get("pixels") if isinstance(source, dict) else source.load_pixels()
            if pixels is None:
                raise JepaworldError("in_memory=True needs the frames: give arrays with `pixels`, or an EpisodeFile")
            self._pixels = np.ascontiguousarray(np.asarray(pixels)[self._source_rows])
        elif self._file is None:
            raise JepaworldError("in_memory=False needs an EpisodeFile or a path, not arrays")
        else:
            self.reader = FrameReader(self._file.path)

    def __len__(self) -> int:
        """Number of distinct windows."""
        return len(self._starts)

    def draw(self, batch_size: int, generator) -> np.ndarray:
        """Window numbers ``(B,)`` drawn uniformly from ``generator`` (torch or numpy, or a seed)."""
        n = len(self._starts)
        if isinstance(generator, torch.Generator):
            return torch.randint(n, (batch_size,), generator=generator).numpy()
        rng = generator if isinstance(generator, np.random.Generator) else np.random.default_rng(generator)
        return rng.integers(n, size=batch_size)

    def window_rows(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Frame rows ``(B, T)`` and action rows ``(B, T, fs)`` (local row numbers) of windows ``index``."""
        fs = self.frameskip
        frames = self._starts[index][:, None] + fs * np.arange(self.T)
        acts = frames[..., None] + np.arange(fs)
        return frames, np.minimum(acts, self._last_row[index][:, None, None])

    def sample(self, batch_size: int, generator=None, with_state: bool = False):
        """``pixels`` uint8 ``(B, T, H, W, 3)``, ``actions`` float32 ``(B, T, fs*A)``
        [, ``state`` float32 ``(B, T, S)``]. ``generator``: torch or numpy generator, or a seed."""
        frames, acts = self.window_rows(self.draw(batch_size, generator))
        return self.windows(frames, acts, with_state)

    @property
    def frame_shape(self) -> tuple[int, ...]:
        """``(H, W, 3)`` of one frame."""
        if self._pixels is not None:
            return tuple(self._pixels.shape[1:])
        assert self.reader is not None  # no frames in RAM: __init__ opened the disk reader
        return self.reader.frame_shape

    def windows(
        self, frames: np.ndarray, acts: np.ndarray, with_state: bool = False, pixels_out: torch.Tensor | None = None
    ):
        """The windows of :meth:`window_rows` (see :meth:`sample`); ``pixels_out``: a ``uint8 (B, T, H, W, 3)``
        tensor to fill and return (e.g. one in shared memory) instead of a new one."""
        b, t = frames.shape
        shape = (b, t, *self.frame_shape)
        if pixels_out is not None and (tuple(pixels_out.shape) != shape or pixels_out.dtype != torch.uint8):
            raise JepaworldError(f"pixels_out must be uint8 {shape}, got {pixels_out.dtype} {tuple(pixels_out.shape)}")
        pixels = pixels_out if pixels_out is not None else torch.empty(shape, dtype=torch.uint8)
        rows = frames.reshape(-1)
        out = pixels.numpy().reshape(len(rows), *self.frame_shape)  # a view: filled in place
        if self._pixels is not None:
            np.take(self._pixels, rows, axis=0, out=out)
        else:
            assert self.reader is not None  # no frames in RAM: __init__ opened the disk reader
            self.reader.read(self._source_rows[rows], out)
        actions = torch.from_numpy(self._action[acts].reshape(b, t, -1))
        if with_state:
            if self._state is None:
                if self._file is not None:
                    self._file.require_state("sampling windows with states")  # raises, naming the file
                raise DataError("sampling windows with states needs a `state` array; these episodes have none")
            return pixels, actions, torch.from_numpy(self._state[frames])
        return pixels, actions
