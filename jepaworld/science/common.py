"""What the science commands share: the run's episodes, output folders, writing a result (and ``model.encode``'s
batched encoding)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.config import write_json
from jepaworld.data import EpisodeFile
from jepaworld.errors import JepaworldError
from jepaworld.model.encode import Progress, encode, model_device  # noqa: F401  (what science modules share)

Draw = Callable[[dict[str, Any], Path], Path]  # (a results.json dict, the PNG to write) -> the PNG


def write_result(result: dict[str, Any], out: str | Path, figures: Mapping[str, Draw], indent: int = 2) -> Path:
    """Write ``OUT/results.json`` (``result``: a result's ``to_dict()``) and each ``OUT/<name>`` of ``figures``,
    drawn from that same dict; returns the results path."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "results.json", result, indent=indent)
    for name, draw in figures.items():
        draw(result, out / name)
    return out / "results.json"


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
