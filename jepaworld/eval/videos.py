"""Rollout videos: the observation beside the goal image, one GIF per recorded episode."""

from __future__ import annotations

from pathlib import Path

import imageio.v2 as imageio
import numpy as np
from numpy.typing import ArrayLike

from jepaworld.atomic import atomic_path
from jepaworld.control import EpisodeResult


def _upscale(frame: np.ndarray, min_height: int = 192) -> np.ndarray:
    k = max(1, min_height // frame.shape[0])
    return np.repeat(np.repeat(frame, k, axis=0), k, axis=1)


def save_videos(results: list[EpisodeResult], folder: str | Path, fps: int = 10) -> list[Path]:
    """One ``episode-XXX-{success|fail}.gif`` per result with recorded frames."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for r in results:
        if not r.frames:
            continue
        path = folder / f"episode-{r.index:03d}-{'success' if r.success else 'fail'}.gif"
        frames: list[ArrayLike] = [_upscale(f) for f in r.frames]
        frames += [frames[-1]] * fps  # hold the last frame for a second
        with atomic_path(path) as tmp:
            imageio.mimsave(tmp, frames, duration=1000 / fps, loop=0)
        paths.append(path)
    return paths
