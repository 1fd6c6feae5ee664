"""A LeRobot dataset folder -> one jepaworld episode file, resumably and atomically.

    result = import_lerobot("datasets/koch_pick", "runs/data/koch.h5", camera="observation.images.top",
                            resolution=64)

What goes where: the camera's frames (decoded, centre square, resized) -> ``pixels``; ``action`` ->
``action`` (every row as recorded, the last one included); ``observation.state`` -> ``proprio`` and
``state`` (what probes and the offline evaluation score against); per episode, LeRobot's
``episode_index`` -> ``ep_source_index`` and its first task -> ``ep_task`` (an index into the ``tasks``
attribute, a JSON list). File attributes keep the fps, the camera, the source folder and format
version, the feature names, and the features left out (other cameras, other columns).

Episodes are read in shards written atomically into ``OUT.parts/`` (as ``jepaworld collect`` does):
rerunning the same command after an interruption keeps the finished shards; the merge into ``OUT``
goes through ``jepaworld.atomic`` (temp file, fsync, rename), so ``OUT`` is either absent or complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jepaworld.atomic import atomic_path
from jepaworld.config import write_json
from jepaworld.data.collect import _merge, parts_dir
from jepaworld.data.episodes import DataError, write_episodes
from jepaworld.data.lerobot.layout import EpisodeRef, Layout, read_layout
from jepaworld.data.lerobot.video import read_frames
from jepaworld.envs.registry import RECORDED_PREFIX as ENV_PREFIX

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (episodes_done, frames_done)
SHARD_FRAMES = 2000  # frames per shard at most (at least one episode)
SETTINGS = ("source", "version", "camera", "resolution", "episodes", "frames")


@dataclass
class ImportResult:
    path: Path
    episodes: int
    frames: int
    camera: str
    fps: float
    version: str
    seconds: float


def recorded_env(layout: Layout) -> str:
    """The env name of an imported dataset: ``lerobot:<robot_type>`` (or the folder's name)."""
    return ENV_PREFIX + (layout.robot_type or layout.root.resolve().name)


def _shards(episodes: list[EpisodeRef]) -> list[tuple[int, int]]:
    """Consecutive (start, stop) positions in ``episodes``, about ``SHARD_FRAMES`` frames each."""
    out, start, frames = [], 0, 0
    for i, ep in enumerate(episodes):
        if frames and frames + ep.length > SHARD_FRAMES:
            out.append((start, i))
            start, frames = i, 0
        frames += ep.length
    out.append((start, len(episodes)))
    return out


def _vectors(table, name: str, n: int, where: str) -> np.ndarray:
    """A fixed-size list column of ``n`` rows -> float32 (n, D)."""
    col = table.column(name).combine_chunks()
    try:
        flat = col.flatten().to_numpy(zero_copy_only=False)
    except AttributeError:  # a scalar column: one value per row
        flat = col.to_numpy(zero_copy_only=False)
    if n and flat.size % n:
        raise DataError(f"{where}: {name} has rows of different lengths; expected one fixed-size vector per frame")
    values = np.asarray(flat, np.float32).reshape(n, -1)
    if not np.all(np.isfinite(values)):
        bad = int(np.flatnonzero(~np.isfinite(values).all(1))[0])
        raise DataError(f"{where}, frame {bad}: {name} is NaN or infinite")
    return values


class _Rows:
    """Per-frame columns of one episode, reading each data parquet file once while it is needed."""

    def __init__(self, columns: list[str]) -> None:
        self.columns = columns
        self._path: Path | None = None
        self._table: Any = None  # the pyarrow Table of ``_path`` (pyarrow has no type stubs)
        self._episode: np.ndarray | None = None

    def episode(self, ep: EpisodeRef):
        import pyarrow.parquet as pq

        if ep.data_file != self._path:
            if not ep.data_file.exists():
                raise DataError(f"episode {ep.index}: its data file {ep.data_file} is missing")
            try:
                self._table = pq.read_table(ep.data_file, columns=self.columns)
            except Exception as e:  # pyarrow raises its own types for a damaged or foreign file
                raise DataError(f"episode {ep.index}: cannot read {ep.data_file} ({e})") from None
            self._path = ep.data_file
            self._episode = self._table.column("episode_index").to_numpy()
        rows = np.flatnonzero(self._episode == ep.index)
        return self._table.take(rows)


def _read_episode(layout: Layout, ep: EpisodeRef, rows: _Rows, camera: str, size: int,
                  state: str | None) -> dict[str, np.ndarray]:  # fmt: skip
    where = f"episode {ep.index}"
    t = rows.episode(ep)
    if t.num_rows != ep.length:
        raise DataError(
            f"{where}: meta/episodes gives length {ep.length} but {ep.data_file} holds {t.num_rows} rows of it; "
            "the dataset is inconsistent (an interrupted recording?)"
        )
    frame_index = t.column("frame_index").to_numpy()
    order = np.argsort(frame_index, kind="stable")
    if not np.array_equal(frame_index[order], np.arange(ep.length)):
        raise DataError(f"{where}: frame_index is not 0..{ep.length - 1}; frames are missing or repeated")
    t = t.take(order)
    timestamps = t.column("timestamp").to_numpy().astype(np.float64)
    video, start = ep.videos[camera]
    out = {
        "pixels": read_frames(video, start + timestamps, layout.fps, size, ep.index),
        "action": _vectors(t, "action", ep.length, where),
    }
    if state is not None:
        out["state"] = _vectors(t, state, ep.length, where)
        out["proprio"] = out["state"]
    return out


def _import_shard(layout: Layout, eps: list[EpisodeRef], camera: str, size: int, state: str | None,
                  final: Path, rows: _Rows) -> int:  # fmt: skip
    episodes = [_read_episode(layout, ep, rows, camera, size, state) for ep in eps]
    columns = {k: np.concatenate([e[k] for e in episodes]) for k in episodes[0]}
    ep_len = np.array([ep.length for ep in eps], np.int64)
    with atomic_path(final) as tmp:
        write_episodes(tmp, columns, ep_len, {})
    return int(ep_len.sum())


def _prepare_parts(folder: Path, settings: dict[str, Any]) -> set[str]:
    """Create or resume ``folder``; the names of the shards already there."""
    saved_path = folder / "settings.json"
    if saved_path.exists():
        saved = json.loads(saved_path.read_text())
        diff = [f"{k}: {saved.get(k)!r} there vs {settings[k]!r} now" for k in SETTINGS if saved.get(k) != settings[k]]
        if diff:
            raise DataError(
                f"{folder} holds an unfinished import with other settings ({'; '.join(diff)}); rerun with the "
                "original settings to resume it, or pass --overwrite to start over"
            )
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*"):  # temp files a killed writer left
        stale.unlink(missing_ok=True)
    if not saved_path.exists():
        write_json(saved_path, settings, indent=2)
    done = set()
    for shard in folder.glob("*.h5"):
        try:
            with h5py.File(shard, "r") as f:
                f["ep_len"][...]
            done.add(shard.name)
        except (OSError, KeyError):
            log.warning("discarding unreadable shard %s", shard)
            shard.unlink()
    return done


def check_output(out: Path, overwrite: bool) -> None:
    """:class:`DataError` for an output that is a folder, or exists without ``overwrite``."""
    if out.is_dir():
        raise DataError(f"{out} is a folder; the output must be an episode file path, e.g. --out {out / 'episodes.h5'}")
    if out.exists() and not overwrite:
        raise DataError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    parts = parts_dir(out)
    if parts.exists() and not (parts / "settings.json").exists() and (not parts.is_dir() or any(parts.iterdir())):
        raise DataError(f"{parts} exists but is not an unfinished import; move it or choose another --out")


def _names(layout: Layout, key: str) -> list[str]:
    names = (layout.features.get(key) or {}).get("names")
    if isinstance(names, dict):  # {"motors": [...]}: LeRobot's older spelling
        names = next(iter(names.values()), None)
    return [str(n) for n in names] if isinstance(names, list) else []


def import_lerobot(
    source: str | os.PathLike,
    out: str | os.PathLike,
    camera: str | None = None,
    resolution: int = 64,
    env: str | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ImportResult:
    """Import the LeRobot dataset folder ``source`` into the episode file ``out`` (module docstring).

    camera: the video feature to read (default: the first); resolution: square frame size;
    env: the file's env name (default ``lerobot:<robot_type>``; name a jepaworld env, e.g. ``pusht``,
    only for episodes recorded in that very simulator). ``progress(episodes_done, frames_done)``.
    """
    t0 = time.perf_counter()
    layout = read_layout(source)
    cam = layout.require_camera(camera)
    if "action" not in layout.features:
        raise DataError(f"{layout.root}: the dataset has no `action` feature; a world model needs the actions")
    if resolution < 8:
        raise DataError(f"--resolution must be >= 8, got {resolution}")
    state = "observation.state" if "observation.state" in layout.features else None
    out = Path(out)
    check_output(out, overwrite)
    folder = parts_dir(out)
    if overwrite:
        out.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    eps = layout.episodes
    settings = {"source": str(layout.root.resolve()), "version": layout.version, "camera": cam,
                "resolution": resolution, "episodes": len(eps), "frames": sum(e.length for e in eps)}  # fmt: skip
    done = _prepare_parts(folder, settings)
    shards = _shards(eps)
    names = [f"{a:07d}-{b:07d}.h5" for a, b in shards]
    columns = ["action", "timestamp", "frame_index", "episode_index"] + ([state] if state else [])
    rows = _Rows(columns)
    episodes_done = sum(b - a for (a, b), n in zip(shards, names, strict=True) if n in done)
    frames_done = sum(sum(e.length for e in eps[a:b]) for (a, b), n in zip(shards, names, strict=True) if n in done)
    if done:
        log.info("resuming %s: %d of %d episodes already imported", folder, episodes_done, len(eps))
    if progress:
        progress(episodes_done, frames_done)
    for (a, b), name in zip(shards, names, strict=True):
        if name in done:
            continue
        frames_done += _import_shard(layout, eps[a:b], cam, resolution, state, folder / name, rows)
        episodes_done += b - a
        if progress:
            progress(episodes_done, frames_done)

    tasks = sorted({t for e in eps for t in e.tasks})
    env = env or recorded_env(layout)
    attrs = {
        "env": env, "resolution": resolution, "fps": layout.fps, "policy": "recorded", "source": "lerobot",
        "lerobot_version": layout.version, "lerobot_root": settings["source"], "camera": cam,
        "robot_type": layout.robot_type or "", "tasks": json.dumps(tasks),
        "action_names": json.dumps(_names(layout, "action")), "state_names": json.dumps(_names(layout, state or "")),
        "left_out": json.dumps([k for k in layout.features if k not in {cam, "action", state, "timestamp",
                                                                          "frame_index", "episode_index", "index",
                                                                          "task_index"}]),
        "version": _version(), "dynamics": _dynamics(env), "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }  # fmt: skip
    with atomic_path(out) as staged:
        frames = _merge(folder, [(a, b) for a, b in shards], staged, attrs)
        with h5py.File(staged, "r+") as f:
            f["ep_source_index"] = np.array([e.index for e in eps], np.int64)
            f["ep_task"] = np.array([tasks.index(e.tasks[0]) if e.tasks else -1 for e in eps], np.int64)
    shutil.rmtree(folder, ignore_errors=True)
    if attrs["left_out"] != "[]":
        log.info("features not imported: %s", attrs["left_out"])
    return ImportResult(out, len(eps), frames, cam, layout.fps, layout.version, time.perf_counter() - t0)


def _dynamics(env: str) -> str:
    """The dynamics version of a jepaworld env (so its files pass ``check_compatible``); '' otherwise."""
    from jepaworld.envs import get_spec
    from jepaworld.envs.registry import UnknownEnvError

    try:
        return get_spec(env).dynamics or ""
    except UnknownEnvError:
        return ""


def _version() -> str:
    from jepaworld.version import __version__

    return __version__
