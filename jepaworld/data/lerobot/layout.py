"""A LeRobot dataset folder read as a list of episodes: where each one's rows and video frames are.

Format v3.0 (LeRobot >= 0.4): ``meta/info.json``; ``meta/episodes/chunk-*/file-*.parquet`` (one row per
episode: ``episode_index``, ``length``, ``tasks``, ``data/chunk_index``, ``data/file_index``,
``dataset_from_index``, ``dataset_to_index`` and per camera ``videos/<key>/{chunk_index, file_index,
from_timestamp}``); ``meta/tasks.parquet``; ``data/chunk-*/file-*.parquet`` (one row per frame);
``videos/<key>/chunk-*/file-*.mp4`` holding several episodes back to back.

Format v2.1 (LeRobot 0.1-0.3): one parquet and one MP4 per episode
(``data/chunk-XXX/episode_XXXXXX.parquet``, ``videos/chunk-XXX/<key>/episode_XXXXXX.mp4``, paths from
``info.json``'s templates), episodes in ``meta/episodes.jsonl``, tasks in ``meta/tasks.jsonl``.

Both are read into :class:`Layout`: the dataset's facts and one :class:`EpisodeRef` per episode.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jepaworld.data.episodes import DataError

VERSIONS = ("v3.0", "v2.1")
FRAME_COLUMNS = ("timestamp", "frame_index", "episode_index", "index", "task_index")


@dataclass
class EpisodeRef:
    """One episode: its rows in a data parquet file and, per camera, its MP4 and start time in it."""

    index: int
    length: int
    tasks: list[str]
    data_file: Path
    rows: tuple[int, int] | None  # (from, to) in the dataset's global ``index``; None: the whole file (v2.1)
    videos: dict[str, tuple[Path, float]] = field(default_factory=dict)  # camera -> (mp4, from_timestamp)


@dataclass
class Layout:
    root: Path
    version: str
    fps: float
    features: dict[str, Any]
    robot_type: str | None
    episodes: list[EpisodeRef]

    @property
    def cameras(self) -> list[str]:
        """Feature keys stored as video, in ``info.json``'s order."""
        return [k for k, v in self.features.items() if v.get("dtype") == "video"]

    @property
    def image_keys(self) -> list[str]:
        """Feature keys stored as images inside the parquet files (not supported by the importer)."""
        return [k for k, v in self.features.items() if v.get("dtype") == "image"]

    def require_camera(self, camera: str | None) -> str:
        """``camera``, or the first camera when None; :class:`DataError` naming the cameras there are."""
        cams = self.cameras
        if not cams:
            images = ", ".join(self.image_keys)
            extra = f" (its images are stored in the parquet files: {images})" if images else ""
            raise DataError(f"{self.root}: the dataset has no video camera{extra}; the importer reads MP4 cameras")
        if camera is None:
            return cams[0]
        if camera not in cams:
            raise DataError(
                f"{self.root}: no camera {camera!r}; its cameras are: {', '.join(cams)} (pass one with --camera)"
            )
        return camera


def read_info(root: Path) -> dict[str, Any]:
    path = root / "meta" / "info.json"
    if not root.is_dir():
        raise DataError(f"{root}: no such folder; expected a LeRobot dataset folder (with meta/info.json)")
    if not path.exists():
        raise DataError(f"{root}: not a LeRobot dataset (no meta/info.json)")
    try:
        info = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise DataError(f"{path}: not readable JSON ({e})") from None
    for key in ("codebase_version", "fps", "features"):
        if key not in info:
            raise DataError(f"{path}: has no {key!r}; is it a LeRobot dataset's info.json?")
    return info


def read_layout(root: str | os.PathLike) -> Layout:
    """Read a dataset folder's metadata (not its frames); :class:`DataError` for an unknown version."""
    root = Path(root)
    info = read_info(root)
    version = str(info["codebase_version"])
    if version not in VERSIONS:
        raise DataError(
            f"{root}: LeRobot dataset format {version} is not supported (supported: {', '.join(VERSIONS)}); "
            "convert it with LeRobot's own converter (lerobot.datasets.v30.convert_dataset_v21_to_v30) to v3.0"
        )
    episodes = _episodes_v30(root, info) if version == "v3.0" else _episodes_v21(root, info)
    if not episodes:
        raise DataError(f"{root}: the dataset holds no episodes")
    return Layout(root=root, version=version, fps=float(info["fps"]), features=info["features"],
                  robot_type=info.get("robot_type"), episodes=episodes)  # fmt: skip


def _episodes_v30(root: Path, info: dict[str, Any]) -> list[EpisodeRef]:
    import pyarrow.parquet as pq

    files = sorted((root / "meta" / "episodes").glob("chunk-*/file-*.parquet"))
    if not files:
        raise DataError(f"{root}: no meta/episodes/chunk-*/file-*.parquet (episode index of a v3.0 dataset)")
    cams = [k for k, v in info["features"].items() if v.get("dtype") == "video"]
    data_tpl = info.get("data_path", "data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet")
    video_tpl = info.get("video_path", "videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4")
    out = []
    for f in files:
        names = pq.read_schema(f).names
        want = ["episode_index", "length", "tasks", "data/chunk_index", "data/file_index", "dataset_from_index",
                "dataset_to_index"] + [f"videos/{c}/{k}" for c in cams for k in ("chunk_index", "file_index",
                                                                                   "from_timestamp")]  # fmt: skip
        missing = [c for c in want if c not in names]
        if missing:
            raise DataError(f"{f}: missing episode columns {', '.join(missing)}; is the dataset complete (finalized)?")
        for r in pq.read_table(f, columns=want).to_pylist():
            videos = {
                c: (root / video_tpl.format(video_key=c, chunk_index=r[f"videos/{c}/chunk_index"],
                                            file_index=r[f"videos/{c}/file_index"]),
                    float(r[f"videos/{c}/from_timestamp"]))
                for c in cams
            }  # fmt: skip
            out.append(EpisodeRef(
                index=int(r["episode_index"]), length=int(r["length"]), tasks=list(r["tasks"] or []),
                data_file=root / data_tpl.format(chunk_index=r["data/chunk_index"], file_index=r["data/file_index"]),
                rows=(int(r["dataset_from_index"]), int(r["dataset_to_index"])), videos=videos,
            ))  # fmt: skip
    return sorted(out, key=lambda e: e.index)


def _jsonl(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        raise DataError(f"{path.parent.parent}: no {path.relative_to(path.parent.parent)} (a v2.1 dataset has one)")
    try:
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON lines ({e})") from None


def _episodes_v21(root: Path, info: dict[str, Any]) -> list[EpisodeRef]:
    cams = [k for k, v in info["features"].items() if v.get("dtype") == "video"]
    chunks = int(info.get("chunks_size", 1000))
    data_tpl = info.get("data_path", "data/chunk-{episode_chunk:03d}/episode_{episode_index:06d}.parquet")
    video_tpl = info.get("video_path", "videos/chunk-{episode_chunk:03d}/{video_key}/episode_{episode_index:06d}.mp4")
    out = []
    for r in _jsonl(root / "meta" / "episodes.jsonl"):
        i = int(r["episode_index"])
        where = {"episode_chunk": i // chunks, "episode_index": i}
        videos = {c: (root / video_tpl.format(video_key=c, **where), 0.0) for c in cams}
        out.append(EpisodeRef(index=i, length=int(r["length"]), tasks=list(r.get("tasks") or []),
                              data_file=root / data_tpl.format(**where), rows=None, videos=videos))  # fmt: skip
    return sorted(out, key=lambda e: e.index)
