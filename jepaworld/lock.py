"""One writer at a time: an exclusive lock on a run folder, a memory file or a collection output.

``with exclusive(path, "the run folder runs/x"):`` holds an advisory ``flock`` on ``path`` (a small
file holding the holder's PID) for the block. A second writer is refused at once with a message
naming the first's PID, instead of deleting the other's temp files or interleaving its writes. The
operating system drops the lock when its process ends, however it ends (kill -9 included), so a
stale lock file never blocks anyone; the file itself stays.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from jepaworld.errors import JepaworldError

try:
    import fcntl
except ImportError:  # Windows: no flock; writers are not guarded there
    fcntl = None  # type: ignore[assignment]


class InUseError(JepaworldError):
    """Another process writes the same run folder, memory or collection output."""


@contextlib.contextmanager
def exclusive(path: str | os.PathLike, what: str) -> Iterator[None]:
    """Hold the lock file ``path`` for the block; ``what`` names the guarded thing in the refusal."""
    path = Path(path)
    if fcntl is None:
        yield
        return
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError:  # nothing can be written there: the writer's own checks say so, with their advice
        yield
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            raise InUseError(f"{what} is in use by process {holder} (lock {path}); wait for it to finish or stop "
                             "it, or write elsewhere") from None  # fmt: skip
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)
