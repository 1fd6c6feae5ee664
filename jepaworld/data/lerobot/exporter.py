"""A jepaworld episode file -> a LeRobot v3.0 dataset folder (what LeRobot 0.4+ reads and its policies train on).

    export_lerobot("runs/data/pusht.h5", "datasets/pusht_jepaworld")

``pixels`` -> the video feature ``observation.images.<camera>`` (AV1 as LeRobot writes it, several
episodes per MP4); ``action`` -> ``action``; ``state`` (else ``proprio``) -> ``observation.state``.
Each episode's task is the file's own (``ep_task`` of an imported file) or ``task``. Global
statistics go to ``meta/stats.json`` (LeRobot's policies normalise with them). The folder is written
through ``jepaworld.atomic.atomic_folder`` (a hidden temp folder, fsynced, renamed when complete); an
interrupted export leaves no partial dataset.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.atomic import atomic_folder
from jepaworld.config import write_json
from jepaworld.data.episodes import DataError, EpisodeFile
from jepaworld.data.lerobot.video import GOP, PRESET, VideoFormat, VideoWriter

Progress = Callable[[int, int], None]  # (episodes_done, frames_done)
CHUNK_FILES = 1000  # files per chunk folder (LeRobot's chunks_size)
FILE_FRAMES = 20_000  # frames per data / video file at most (LeRobot splits by size: 100 / 200 MB)
QUANTILES = (0.01, 0.10, 0.50, 0.90, 0.99)
DATA_PATH = "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet"
VIDEO_PATH = "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4"
EPISODES_PATH = "meta/episodes/chunk-000/file-000.parquet"


@dataclass
class ExportResult:
    path: Path
    episodes: int
    frames: int
    seconds: float


def vector_stats(x: np.ndarray) -> dict[str, Any]:
    """LeRobot's per-feature statistics of (N, D) values."""
    x = np.asarray(x, np.float64)
    out = {"min": x.min(0), "max": x.max(0), "mean": x.mean(0), "std": x.std(0), "count": np.array([len(x)])}
    out |= {f"q{round(q * 100):02d}": np.quantile(x, q, axis=0) for q in QUANTILES}
    return {k: v.tolist() for k, v in out.items()}


def image_stats(frames: np.ndarray) -> dict[str, Any]:
    """Per-channel statistics of uint8 frames (N, H, W, 3), in [0, 1], shaped (3, 1, 1) as LeRobot keeps them.

    Exact, from one 256-bin histogram per channel (a quantile of uint8 values is one of 256 levels)."""
    levels = np.arange(256) / 255.0
    per: dict[str, list[float]] = {k: [] for k in ("min", "max", "mean", "std", *(f"q{round(q * 100):02d}"
                                                                                   for q in QUANTILES))}  # fmt: skip
    for c in range(3):
        hist = np.bincount(frames[..., c].reshape(-1), minlength=256).astype(np.float64)
        p = hist / hist.sum()
        cdf = np.cumsum(p)
        mean = float((p * levels).sum())
        per["min"].append(float(levels[np.flatnonzero(hist)[0]]))
        per["max"].append(float(levels[np.flatnonzero(hist)[-1]]))
        per["mean"].append(mean)
        per["std"].append(float(np.sqrt((p * (levels - mean) ** 2).sum())))
        for q in QUANTILES:
            per[f"q{round(q * 100):02d}"].append(float(levels[min(255, int(np.searchsorted(cdf, q)))]))
    return {k: [[[v]] for v in vals] for k, vals in per.items()} | {"count": [len(frames)]}


def episode_stats(key: str, pixels: np.ndarray, cols: dict[str, np.ndarray]) -> dict[str, Any]:
    """One episode's ``stats/<feature>/<statistic>`` columns of ``meta/episodes`` (LeRobot aggregates them)."""
    out = {}
    for name, values in cols.items():
        v = np.asarray(values, np.float64)
        for stat, x in vector_stats(v.reshape(len(v), -1)).items():
            out[f"stats/{name}/{stat}"] = x
    for stat, x in image_stats(pixels).items():
        out[f"stats/{key}/{stat}"] = x
    return out


def _feature_info(size: int, fps: float, fmt: VideoFormat) -> dict[str, Any]:
    """``info.json``'s video facts; the codec by its canonical name (``libsvtav1`` -> ``av1``), as LeRobot has it."""
    import av

    info = {"video.height": size, "video.width": size, "video.codec": av.Codec(fmt.codec, "w").canonical_name,
            "video.pix_fmt": fmt.pix_fmt, "video.fps": fps, "video.channels": 3, "has_audio": False, "video.g": GOP,
            "video.crf": fmt.crf}  # fmt: skip
    if fmt.codec == "libsvtav1":
        info["video.preset"] = PRESET
    return info | {"video.fast_decode": 0, "video.video_backend": "pyav", "video.extra_options": {},
                   "is_depth_map": False}  # fmt: skip


def _vector_type(dim: int):
    import pyarrow as pa

    return pa.list_(pa.float32(), dim)


def _write_data(path: Path, cols: dict[str, np.ndarray], dims: dict[str, int]) -> None:
    """One data parquet file: the vector columns as fixed-size lists (as LeRobot writes them), the rest scalars."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays, fields = [], {}
    for name, v in cols.items():
        if name in dims:
            arrays.append(pa.FixedSizeListArray.from_arrays(pa.array(v.reshape(-1), pa.float32()), dims[name]))
            fields[name] = {"feature": {"dtype": "float32", "_type": "Value"}, "length": dims[name], "_type": "List"}
        else:
            arrays.append(pa.array(v))
            fields[name] = {"dtype": str(v.dtype), "_type": "Value"}
    table = pa.Table.from_arrays(arrays, names=list(cols))
    table = table.replace_schema_metadata({"huggingface": json.dumps({"info": {"features": fields}})})
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)


def _write_tasks(path: Path, tasks: list[str]) -> None:
    """``meta/tasks.parquet``: task_index and task, with the task as the pandas index (LeRobot looks tasks up by it)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    pandas_meta = {
        "index_columns": ["task"],
        "column_indexes": [{"name": None, "field_name": None, "pandas_type": "unicode", "numpy_type": "object",
                            "metadata": {"encoding": "UTF-8"}}],
        "columns": [{"name": "task_index", "field_name": "task_index", "pandas_type": "int64", "numpy_type": "int64",
                     "metadata": None},
                    {"name": "task", "field_name": "task", "pandas_type": "unicode", "numpy_type": "object",
                     "metadata": None}],
        "attributes": {}, "creator": {"library": "pyarrow", "version": pa.__version__}, "pandas_version": "2.3.3",
    }  # fmt: skip
    table = pa.table({"task_index": pa.array(range(len(tasks)), pa.int64()), "task": pa.array(tasks, pa.string())})
    pq.write_table(table.replace_schema_metadata({"pandas": json.dumps(pandas_meta)}), path)


def _episode_tasks(f: EpisodeFile, task: str | None) -> tuple[list[str], np.ndarray]:
    """The task list and each episode's task index: the file's own (an imported file) or ``task`` for all."""
    attrs = f.attrs
    if task is None and "tasks" in attrs and "ep_task" in f.file:
        tasks = json.loads(attrs["tasks"])
        ep_task = f.file["ep_task"][...]
        if tasks and np.all((ep_task >= 0) & (ep_task < len(tasks))):
            return tasks, ep_task.astype(np.int64)
    return [task or str(attrs.get("env", "jepaworld episodes"))], np.zeros(f.n_episodes, np.int64)


def export_lerobot(
    path: str | os.PathLike,
    out: str | os.PathLike,
    camera: str = "top",
    fps: float | None = None,
    task: str | None = None,
    video: VideoFormat = VideoFormat(),
    overwrite: bool = False,
    progress: Progress | None = None,
) -> ExportResult:
    """Write the episode file ``path`` as the LeRobot v3.0 dataset folder ``out`` (module docstring).

    camera: the video feature's name after ``observation.images.``; fps: the file's own (``fps``
    attribute) else 10 (the control rate of jepaworld's simulators); video: encoder, CRF and pixel format (LeRobot's
    default; ``VideoFormat("libx264", 0, "yuv444p")`` is near-lossless).
    """
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and not overwrite:
        raise DataError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    if out.exists() and not (out / "meta" / "info.json").exists():
        raise DataError(f"{out} exists and is not a LeRobot dataset; --overwrite replaces only a dataset folder")
    with EpisodeFile(path) as f:
        f.validate()
        fps = float(fps or f.attrs.get("fps", 10))
        if fps <= 0 or fps != int(fps):
            raise DataError(f"fps must be a positive whole number (LeRobot stores it as an int), got {fps}")
        fps = int(fps)
        tasks, ep_task = _episode_tasks(f, task)
        state_col = "state" if f.has_state else ("proprio" if "proprio" in f.file else None)
        ep_len, ep_off = f.ep_len, f.ep_offset
        action = f.action[...]
        state = f.file[state_col][...] if state_col else None
        size = f.resolution
        key = f"observation.images.{camera}"
        dims = ({"observation.state": state.shape[1]} if state is not None else {}) | {"action": action.shape[1]}
        with atomic_folder(out) as tmp:  # replaces an existing dataset (--overwrite) only once complete
            episodes, frames_done, sample = _write_files(f, tmp, key, fps, video, ep_len, ep_off, action, state,
                                                         ep_task, tasks, progress)  # fmt: skip
            _write_meta(tmp, f, key, fps, size, dims, episodes, tasks, action, state, sample, video)
    return ExportResult(out, len(ep_len), frames_done, time.perf_counter() - t0)


def _write_files(f: EpisodeFile, root: Path, key: str, fps: int, video: VideoFormat, ep_len: np.ndarray,
                 ep_off: np.ndarray, action: np.ndarray, state: np.ndarray | None, ep_task: np.ndarray,
                 tasks: list[str], progress: Progress | None,
                 ) -> tuple[list[dict[str, Any]], int, np.ndarray]:  # fmt: skip
    """Data parquet files and MP4s, ``FILE_FRAMES`` frames a file; the episode rows of meta/episodes."""
    episodes: list[dict[str, Any]] = []
    file_no, in_file = 0, 0
    writer: VideoWriter | None = None
    cols: dict[str, list[np.ndarray]] = {}
    sample_rows = np.unique(np.linspace(0, len(action) - 1, min(len(action), 1000)).astype(int))
    sample = np.empty((len(sample_rows), *f.pixels.shape[1:]), np.uint8)

    def close_file(writer: VideoWriter) -> None:
        writer.close()
        loc = {"chunk_index": file_no // CHUNK_FILES, "file_index": file_no % CHUNK_FILES}
        _write_data(root / DATA_PATH.format(**loc), {k: np.concatenate(v) for k, v in cols.items()},
                    {"action": action.shape[1]} | ({"observation.state": state.shape[1]} if state is not None else {}))

    frames_done = 0
    for e, (n, o) in enumerate(zip(ep_len.tolist(), ep_off.tolist(), strict=True)):
        if writer is not None and in_file + n > FILE_FRAMES:
            close_file(writer)
            file_no, writer = file_no + 1, None
        if writer is None:
            loc = {"chunk_index": file_no // CHUNK_FILES, "file_index": file_no % CHUNK_FILES}
            writer = VideoWriter(root / VIDEO_PATH.format(video_key=key, **loc), fps, f.resolution, video)
            cols, in_file = {"observation.state": [], "action": [], "timestamp": [], "frame_index": [],
                             "episode_index": [], "index": [], "task_index": []}, 0  # fmt: skip
            if state is None:
                del cols["observation.state"]
        pixels = f.pixels[o : o + n]
        start = writer.write(pixels)
        picked = (sample_rows >= o) & (sample_rows < o + n)
        sample[picked] = pixels[sample_rows[picked] - o]
        cols["action"].append(action[o : o + n])
        if state is not None:
            cols["observation.state"].append(state[o : o + n])
        cols["timestamp"].append((np.arange(n) / fps).astype(np.float32))
        cols["frame_index"].append(np.arange(n, dtype=np.int64))
        cols["episode_index"].append(np.full(n, e, np.int64))
        cols["index"].append(np.arange(o, o + n, dtype=np.int64))
        cols["task_index"].append(np.full(n, ep_task[e], np.int64))
        loc = {"chunk_index": file_no // CHUNK_FILES, "file_index": file_no % CHUNK_FILES}
        episodes.append({
            "episode_index": e, "tasks": [tasks[ep_task[e]]], "length": n,
            "data/chunk_index": loc["chunk_index"], "data/file_index": loc["file_index"],
            "dataset_from_index": o, "dataset_to_index": o + n,
            f"videos/{key}/chunk_index": loc["chunk_index"], f"videos/{key}/file_index": loc["file_index"],
            f"videos/{key}/from_timestamp": start, f"videos/{key}/to_timestamp": start + n / fps,
            "meta/episodes/chunk_index": 0, "meta/episodes/file_index": 0,
        } | episode_stats(key, pixels, {k: v[-1] for k, v in cols.items()}))  # fmt: skip
        in_file += n
        frames_done += n
        if progress:
            progress(e + 1, frames_done)
    if writer is None:
        raise DataError(f"{f.path} has no episodes to export")
    close_file(writer)
    return episodes, frames_done, sample


def _write_meta(root: Path, f: EpisodeFile, key: str, fps: int, size: int, dims: dict[str, int],
                episodes: list[dict[str, Any]], tasks: list[str], action: np.ndarray, state: np.ndarray | None,
                sample: np.ndarray, video: VideoFormat) -> None:  # fmt: skip
    import pyarrow as pa
    import pyarrow.parquet as pq

    attrs = f.attrs
    names = {"action": json.loads(attrs.get("action_names", "[]")) or None,
             "observation.state": json.loads(attrs.get("state_names", "[]")) or None}  # fmt: skip
    features: dict[str, Any] = {
        key: {"dtype": "video", "shape": [size, size, 3], "names": ["height", "width", "channels"],
              "info": _feature_info(size, fps, video)},
    }  # fmt: skip
    for name, dim in dims.items():
        named = names.get(name) or [f"{name}_{i}" for i in range(dim)]
        features[name] = {"dtype": "float32", "shape": [dim], "names": named}
    for name, dtype in (("timestamp", "float32"), ("frame_index", "int64"), ("episode_index", "int64"),
                        ("index", "int64"), ("task_index", "int64")):  # fmt: skip
        features[name] = {"dtype": dtype, "shape": [1], "names": None}
    info = {
        "codebase_version": "v3.0", "robot_type": str(attrs.get("robot_type") or attrs.get("env", "unknown")),
        "total_episodes": len(episodes), "total_frames": int(len(action)), "total_tasks": len(tasks),
        "chunks_size": CHUNK_FILES, "data_files_size_in_mb": 100, "video_files_size_in_mb": 200, "fps": fps,
        "splits": {"train": f"0:{len(episodes)}"}, "data_path": DATA_PATH, "video_path": VIDEO_PATH,
        "features": features,
    }  # fmt: skip
    write_json(root / "meta" / "info.json", info, indent=4)
    stats = {"action": vector_stats(action), key: image_stats(sample)}
    if state is not None:
        stats["observation.state"] = vector_stats(state)
    for name in ("timestamp", "frame_index", "episode_index", "index", "task_index"):
        values = {"frame_index": np.concatenate([np.arange(e["length"]) for e in episodes]),
                  "episode_index": np.repeat(np.arange(len(episodes)), [e["length"] for e in episodes]),
                  "index": np.arange(len(action))}.get(name)  # fmt: skip
        if name == "timestamp":
            values = np.concatenate([np.arange(e["length"]) / fps for e in episodes])
        if name == "task_index":
            values = np.repeat([tasks.index(e["tasks"][0]) for e in episodes], [e["length"] for e in episodes])
        stats[name] = vector_stats(np.asarray(values, np.float64)[:, None])
    write_json(root / "meta" / "stats.json", stats, indent=4)
    _write_tasks(root / "meta" / "tasks.parquet", tasks)
    table = pa.Table.from_pylist(episodes)
    path = root / EPISODES_PATH
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
