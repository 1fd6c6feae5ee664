"""The HDF5 episode file: per-step columns plus episode lengths and offsets.

Layout (that of stable-worldmodel): one file, ``N`` rows in total, episodes stored back to back.

| dataset     | dtype   | shape          | row ``i`` of an episode                         |
|-------------|---------|----------------|--------------------------------------------------|
| pixels      | uint8   | (N, H, W, 3)   | observation ``o_i``                              |
| action      | float32 | (N, A)         | action taken at ``o_i`` (zeros on the last row) |
| state       | float32 | (N, S)         | low-dimensional state at ``o_i`` (optional)      |
| proprio     | float32 | (N, P)         | optional, unused (shown by ``data info``)        |
| ep_len      | int64   | (E,)           | rows per episode                                 |
| ep_offset   | int64   | (E,)           | first row of each episode                        |

File attributes: env, resolution, policy, seed, noise, max_steps, version, created, config (JSON).

Training needs only pixels, actions and the episode index. ``jepaworld collect`` also writes
``state``, which evaluation and probes need; files from stable-worldmodel's own writer have no
``state`` column (and maybe no ``env`` attribute): they open and train, and what needs states says
so (:meth:`EpisodeFile.require_state`).
"""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jepaworld.errors import JepaworldError

log = logging.getLogger(__name__)

REQUIRED = ("pixels", "action", "ep_len", "ep_offset")  # state and proprio are optional
# Measured on Two-Room 64 px (20k frames, 248 MB raw): gzip level 1 gives 9 MB (lzf: 20 MB) and
# reads faster than lzf (250 vs 165 MB/s). One frame per chunk lets random windows be read frame by
# frame (~65 us each; 4 frames per chunk: ~105 us) and lets shards be merged without recompressing.
PIXEL_CHUNK = 1  # frames per HDF5 chunk
COMPRESSION, COMPRESSION_LEVEL = "gzip", 1


class DataError(JepaworldError):
    """A data file that is missing, unreadable, inconsistent or of the wrong kind."""


def write_episodes(
    path: str | os.PathLike, columns: dict[str, np.ndarray], ep_len: np.ndarray, attrs: dict[str, Any]
) -> None:
    """Write ``columns`` (each ``(N, ...)``) and ``ep_len`` ``(E,)`` to a new HDF5 file at ``path``."""
    ep_len = np.asarray(ep_len, np.int64)
    with h5py.File(path, "w") as f:
        create_columns(f, {k: (v.shape, v.dtype) for k, v in columns.items()}, len(ep_len))
        for k, v in columns.items():
            f[k][...] = v
        f["ep_len"][...] = ep_len
        f["ep_offset"][...] = offsets(ep_len)
        f.attrs.update(attrs)


def create_columns(
    f: h5py.File, shapes: dict[str, tuple[tuple[int, ...], np.dtype]], n_episodes: int
) -> None:
    """Create the (empty, chunked, compressed) datasets of an episode file."""
    for name, (shape, dtype) in shapes.items():
        per_chunk = PIXEL_CHUNK if name == "pixels" else 4096
        chunks = (max(1, min(per_chunk, shape[0])), *shape[1:]) if shape[0] else None
        f.create_dataset(
            name,
            shape=shape,
            dtype=dtype,
            chunks=chunks,
            compression=COMPRESSION if chunks else None,
            compression_opts=COMPRESSION_LEVEL if chunks else None,
        )
    f.create_dataset("ep_len", shape=(n_episodes,), dtype=np.int64)
    f.create_dataset("ep_offset", shape=(n_episodes,), dtype=np.int64)


def offsets(ep_len: np.ndarray) -> np.ndarray:
    """First row of each episode ``(E,)`` from lengths ``(E,)``."""
    return (
        np.concatenate([[0], np.cumsum(ep_len)[:-1]]).astype(np.int64)
        if len(ep_len)
        else np.zeros(0, np.int64)
    )


class EpisodeFile:
    """Lazy reader: ``EpisodeFile(path)``; columns are ``h5py`` datasets until :meth:`load_pixels`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._file: h5py.File | None = None
        if not self.path.exists():
            raise DataError(
                f"{self.path}: no such file; collect one with `jepaworld collect --out {self.path}`"
            )
        self._open()  # fail early on a file that is not HDF5 or is not an episode file

    def _open(self) -> h5py.File:
        if self._file is None:
            try:
                self._file = h5py.File(self.path, "r")
            except OSError as e:
                raise DataError(
                    f"{self.path}: not a readable HDF5 file ({e}); it may be truncated or of another format; "
                    "collect it again with `jepaworld collect --overwrite`"
                ) from None
            missing = [k for k in REQUIRED if k not in self._file]
            if missing:
                self.close()
                raise DataError(
                    f"{self.path}: not a jepaworld episode file (missing datasets: {', '.join(missing)})"
                )
        return self._file

    @property
    def file(self) -> h5py.File:
        return self._open()

    # -- columns ----------------------------------------------------------------------------
    @property
    def pixels(self) -> h5py.Dataset:
        return self.file["pixels"]

    @property
    def action(self) -> h5py.Dataset:
        return self.file["action"]

    @property
    def has_state(self) -> bool:
        """Whether the file has the low-dimensional ``state`` column (stable-worldmodel files do not)."""
        return "state" in self.file

    def require_state(self, purpose: str) -> h5py.Dataset:
        """The ``state`` column; :class:`DataError` saying that ``purpose`` needs it when it is absent."""
        if not self.has_state:
            raise DataError(
                f"{self.path} has no `state` column (a stable-worldmodel file?); {purpose} needs "
                "low-dimensional states; re-collect with `jepaworld collect`"
            )
        return self.file["state"]

    @property
    def state(self) -> h5py.Dataset:
        """The ``state`` column; :class:`DataError` when absent (see :meth:`require_state`)."""
        return self.require_state("this command")

    @property
    def ep_len(self) -> np.ndarray:
        return self.file["ep_len"][...]

    @property
    def ep_offset(self) -> np.ndarray:
        return self.file["ep_offset"][...]

    @property
    def n_episodes(self) -> int:
        return int(self.file["ep_len"].shape[0])

    @property
    def n_frames(self) -> int:
        return int(self.file["pixels"].shape[0])

    @property
    def attrs(self) -> dict[str, Any]:
        return {k: (v.item() if isinstance(v, np.generic) else v) for k, v in self.file.attrs.items()}

    @property
    def resolution(self) -> int:
        return int(self.pixels.shape[1])

    def load_pixels(self) -> np.ndarray:
        """All frames in RAM: ``uint8 (N, H, W, 3)``."""
        return self.pixels[...]

    def arrays(self, pixels: bool = True) -> dict[str, np.ndarray]:
        """``action``, ``state`` (when the file has it), ``ep_len``, ``ep_offset`` and, when asked,
        ``pixels``, as numpy."""
        names = ("action", "state", "ep_len", "ep_offset") if self.has_state else ("action", "ep_len", "ep_offset")
        out = {k: self.file[k][...] for k in names}
        if pixels:
            out["pixels"] = self.load_pixels()
        return out

    # -- checks -----------------------------------------------------------------------------
    def validate(self) -> None:
        """Raise :class:`DataError` saying what is wrong; reads the low-dimensional columns fully."""
        where = str(self.path)
        ep_len, ep_off, n = self.ep_len, self.ep_offset, self.n_frames
        px = self.pixels
        if px.dtype != np.uint8 or px.ndim != 4 or px.shape[3] != 3 or px.shape[1] != px.shape[2]:
            raise DataError(f"{where}: pixels must be uint8 (N, H, H, 3), got {px.dtype} {px.shape}")
        cols = {"action": self.action}
        if self.has_state:
            cols["state"] = self.file["state"]
        for name, ds in cols.items():
            if ds.dtype != np.float32 or ds.ndim != 2 or ds.shape[0] != n:
                raise DataError(
                    f"{where}: {name} must be float32 ({n}, D) like pixels, got {ds.dtype} {ds.shape}"
                )
            values = ds[...]
            if not np.all(np.isfinite(values)):
                bad = np.flatnonzero(~np.isfinite(values).all(axis=1))
                raise DataError(
                    f"{where}: {name} has NaN/inf in {len(bad)} rows (first row {bad[0]}); re-collect"
                )
        if ep_len.shape != ep_off.shape or ep_len.ndim != 1:
            raise DataError(
                f"{where}: ep_len {ep_len.shape} and ep_offset {ep_off.shape} must be equal 1-D arrays"
            )
        if len(ep_len) == 0:
            raise DataError(f"{where}: holds no episodes")
        if np.any(ep_len < 1):
            raise DataError(f"{where}: episode {int(np.argmax(ep_len < 1))} has length < 1")
        if int(ep_len.sum()) != n:
            raise DataError(f"{where}: episode lengths sum to {int(ep_len.sum())} but the file has {n} rows")
        expected = offsets(ep_len)
        if not np.array_equal(ep_off, expected):
            i = int(np.argmax(ep_off != expected))
            raise DataError(
                f"{where}: ep_offset[{i}] = {int(ep_off[i])}, expected {int(expected[i])} "
                "(episodes must be contiguous and in order)"
            )

    def __getstate__(self) -> dict[str, Any]:
        """Pickled without its handle (e.g. for ``DataLoader`` workers); reopened on first use."""
        return {"path": self.path, "_file": None}

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> EpisodeFile:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"EpisodeFile({str(self.path)!r}, episodes={self.n_episodes}, frames={self.n_frames})"


def check_compatible(
    file: EpisodeFile, env: str | None = None, resolution: int | None = None, dynamics: str | None = None
) -> None:
    """Raise :class:`DataError` naming both sides when ``file`` is of another env, resolution or dynamics.

    A file without an ``env`` attribute (stable-worldmodel's writer may not set one) is taken to be
    of ``env``, with a logged warning that this could not be checked. ``dynamics``: the env's
    current dynamics version (``EnvSpec.dynamics``); a jepaworld file collected under another one
    (e.g. Two-Room before it followed the reference collision rule) is refused.
    """
    attrs = file.attrs
    if dynamics is not None and "version" in attrs and attrs.get("dynamics") != dynamics:
        raise DataError(
            f"{file.path} was collected with other {env} dynamics ({attrs.get('dynamics') or 'an earlier version'}; "
            f"now {dynamics}): its episodes would not match the environment; collect it again"
        )
    if env is not None and "env" not in attrs:
        log.warning("%s records no env; assuming it holds %r episodes (could not be checked)", file.path, env)
    elif env is not None and attrs["env"] != env:
        raise DataError(
            f"{file.path} holds episodes of env {attrs.get('env')!r} but {env!r} was asked for; "
            "use a file collected for that env or change data.env"
        )
    if resolution is not None and file.resolution != resolution:
        raise DataError(
            f"{file.path} has {file.resolution}-px frames but resolution {resolution} was asked for; "
            f"set data.resolution={file.resolution} (and model.image_size) or re-collect at {resolution} px"
        )
