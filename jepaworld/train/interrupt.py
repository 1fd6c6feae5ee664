"""Stop training cleanly on Ctrl-C (SIGINT) or a scheduler's SIGTERM, after the step in progress.

While training runs in the main thread, both signals are caught: inside a training step they are
held until the step has completed (so the weights saved match the step counted), then raised as
:class:`TrainingInterrupted`, which the loop answers by checkpointing the last completed step.
Outside a step (loading data, building the model) they raise at once; a second signal during a
step raises at once too. The previous handlers are restored when training returns.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped by a signal (``signum``); the last completed step has been checkpointed.

    A ``KeyboardInterrupt`` so that code handling Ctrl-C handles SIGTERM the same way. The
    conventional exit status is ``128 + signum`` (130 for SIGINT, 143 for SIGTERM).
    """

    def __init__(self, signum: int) -> None:
        super().__init__(f"training interrupted by {signal.Signals(signum).name}")
        self.signum = int(signum)

    @property
    def exit_code(self) -> int:
        return 128 + self.signum


class StopOnSignal:
    """Context manager installing the handlers (a no-op outside the main thread)."""

    def __init__(self) -> None:
        self.pending: int | None = None
        self._in_step = False
        self._previous: dict[int, object] = {}

    def __enter__(self) -> StopOnSignal:
        if threading.current_thread() is threading.main_thread():
            for sig in SIGNALS:
                self._previous[sig] = signal.getsignal(sig)
                signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, prev in self._previous.items():
            signal.signal(sig, prev if prev is not None else signal.SIG_DFL)  # type: ignore[arg-type]
        self._previous.clear()

    def _handle(self, signum: int, frame: FrameType | None) -> None:
        if self._in_step and self.pending is None:
            self.pending = signum  # finish the step first
            return
        self.pending = None
        raise TrainingInterrupted(signum)

    @contextlib.contextmanager
    def step(self) -> Iterator[None]:
        """Hold signals during the block; raise :class:`TrainingInterrupted` after it if one came."""
        self._in_step = True
        try:
            yield
        finally:
            self._in_step = False
        if self.pending is not None:
            signum, self.pending = self.pending, None
            raise TrainingInterrupted(signum)
