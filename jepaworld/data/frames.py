"""Frame rows of an episode file read from disk: the pixels of windows that do not fit in RAM.

Where a window's time goes (Two-Room at 224 px, one frame per chunk, deflate level 1, one core):
h5py's read of one frame through HDF5's filter pipeline costs ~180 us of CPU, of which fetching the
stored chunk takes ~5 us and inflating it ~80 us; the rest is HDF5 allocating and copying. So
when a file stores pixels one frame per chunk with deflate alone (what ``jepaworld collect``
writes), :class:`FrameReader` fetches the stored chunk (``read_direct_chunk``) and inflates it
with ``zlib`` straight into the batch: each needed frame is decoded once, no other frame is
touched, and pixels stay ``uint8``. Other layouts (e.g. stable-worldmodel's files: contiguous,
other chunk shapes or filters) are read through h5py, one call per frame.

The HDF5 handle is opened in each process on first use, so a reader (and an :class:`EpisodeFile`)
can be handed to ``DataLoader`` workers, forked or spawned.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import zlib
from collections.abc import Callable
from pathlib import Path

import h5py
import numpy as np

from jepaworld.data.episodes import DataError

_DEFLATE_SKIPPED = 1  # bit 0 of a chunk's filter mask: the first filter (deflate) was not applied


def _stored_frame_by_frame(ds: h5py.Dataset) -> bool:
    """Whether ``ds`` is chunked one frame per chunk with deflate as its only filter (or none)."""
    if ds.chunks != (1, *ds.shape[1:]):
        return False
    plist = ds.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    return filters in ([], [h5py.h5z.FILTER_DEFLATE])


class FrameReader:
    """``FrameReader(path)``; ``read(rows)`` -> ``uint8 (n, H, W, 3)`` for file rows ``(n,)``."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self._ds: h5py.Dataset | None = None
        self._pid: int | None = None
        ds = self._pixels()
        self.frame_shape: tuple[int, ...] = tuple(ds.shape[1:])
        self.n_rows = int(ds.shape[0])
        self.direct = _stored_frame_by_frame(ds)  # fetch + inflate chunks ourselves
        self.deflated = bool(ds.compression == "gzip")

    def _pixels(self) -> h5py.Dataset:
        """The ``pixels`` dataset, opened once per process (a handle must not cross a fork)."""
        if self._ds is None or self._pid != os.getpid():
            try:
                self._ds = h5py.File(self.path, "r")["pixels"]
            except (OSError, KeyError) as e:
                raise DataError(f"{self.path}: cannot read pixels ({e}); is the episode file still there?") from None
            self._pid = os.getpid()
        return self._ds

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_ds": None, "_pid": None}

    def read(self, rows: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Frames of file rows ``rows (n,)`` into ``out`` (or a new array) ``uint8 (n, H, W, 3)``."""
        rows = np.asarray(rows, np.int64).reshape(-1)
        if out is None:
            out = np.empty((len(rows), *self.frame_shape), np.uint8)
        ds = self._pixels()
        first: dict[int, int] = {}  # row -> where it was decoded first in this call
        for j, r in enumerate(rows.tolist()):
            if r in first:
                out[j] = out[first[r]]
                continue
            first[r] = j
            if self.direct:
                self._inflate(ds, r, out[j])
            else:
                ds.read_direct(out, np.s_[r : r + 1], np.s_[j : j + 1])
        return out

    def _inflate(self, ds: h5py.Dataset, row: int, dst: np.ndarray) -> None:
        mask, raw = ds.id.read_direct_chunk((row,) + (0,) * len(self.frame_shape))
        if not self.deflated or mask & _DEFLATE_SKIPPED:
            data = raw
        elif _UNCOMPRESS is not None and dst.flags.c_contiguous:
            # inflate straight into the batch: no frame-sized bytes object, no copy (~15% of a frame's cost)
            size = ctypes.c_ulong(dst.nbytes)
            status = _UNCOMPRESS(dst.ctypes.data, ctypes.byref(size), raw, len(raw))
            if status == _Z_OK and size.value == dst.nbytes:
                return
            data = self._decompress(raw, row, dst.nbytes)  # damaged or of another size: find out how
        else:
            data = self._decompress(raw, row, dst.nbytes)
        if len(data) != dst.nbytes:
            raise DataError(
                f"{self.path}: the stored chunk of frame row {row} holds {len(data)} bytes, expected "
                f"{dst.nbytes}; the file is damaged: collect it again"
            )
        dst[...] = np.frombuffer(data, np.uint8).reshape(dst.shape)

    def _decompress(self, raw: bytes, row: int, size: int) -> bytes:
        # bufsize = the frame's size: one allocation (zlib's default grows its output in steps and
        # then joins them: ~2x slower at 224 px)
        try:
            return zlib.decompress(raw, bufsize=size)
        except zlib.error as e:
            raise DataError(
                f"{self.path}: the stored chunk of frame row {row} does not inflate ({e}); the file is damaged: "
                "collect it again"
            ) from None


def _libz_uncompress() -> Callable[..., int] | None:
    """zlib's ``uncompress(dest, &dest_len, source, source_len)``, which writes into a buffer we own
    (Python's ``zlib`` returns a new bytes object); ``None`` where the library cannot be found."""
    name = ctypes.util.find_library("z")
    try:
        fn = ctypes.CDLL(name).uncompress if name else None
    except (OSError, AttributeError):
        return None
    if fn is not None:
        fn.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_ulong), ctypes.c_char_p, ctypes.c_ulong]
        fn.restype = ctypes.c_int
    return fn


_Z_OK = 0
_UNCOMPRESS = _libz_uncompress()
