"""Rich progress bars shared by the CLI commands; off a terminal (a log, CI) they print plain lines."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

LOG_EVERY_S = 30.0  # off a terminal: seconds between two lines of one task


def _clock(seconds: float | None) -> str:
    return "?" if seconds is None else str(timedelta(seconds=int(seconds)))  # 0:05:10


class LogProgress(Progress):
    """rich's :class:`Progress`, which off a terminal (``nohup``, a log file, CI) draws its bars only once, when it
    stops, squeezed into 80 columns. There it prints instead one plain line per task on its first update, every
    ``log_every_s`` seconds and when the task completes:
    ``train 1,200/6,000 (20%) 0:05:10 elapsed, 0:20:40 left | loss ...``."""

    def __init__(self, *columns: Any, log_every_s: float = LOG_EVERY_S, **kwargs: Any) -> None:
        super().__init__(*columns, **kwargs)
        self._plain = not self.disable and not self.console.is_terminal
        if self._plain:
            self.disable = True  # no live display: the bars it draws once on stop would be squeezed into 80 columns
        self.log_every_s = log_every_s
        self._last_line: dict[TaskID, float] = {}
        self._done: set[TaskID] = set()

    def update(self, task_id: TaskID, **kwargs: Any) -> None:
        super().update(task_id, **kwargs)
        self._log(task_id)

    def advance(self, task_id: TaskID, advance: float = 1) -> None:
        super().advance(task_id, advance)
        self._log(task_id)

    def _log(self, task_id: TaskID) -> None:
        if not self._plain or task_id in self._done:
            return
        task = next(t for t in self.tasks if t.id == task_id)
        now = time.monotonic()
        if not task.finished and now - self._last_line.get(task_id, -1e18) < self.log_every_s:
            return
        self._last_line[task_id] = now
        if task.finished:
            self._done.add(task_id)
        total = f"/{task.total:,.0f} ({100 * task.completed / task.total:.0f}%)" if task.total else ""
        left = "" if task.finished else f", {_clock(task.time_remaining)} left"
        fields = " ".join(str(v) for v in task.fields.values() if v)
        line = f"{task.description} {task.completed:,.0f}{total} {_clock(task.elapsed)} elapsed{left}"
        self.console.print(f"{line} | {fields}" if fields else line, markup=False, highlight=False, soft_wrap=True)


def make_progress() -> Progress:
    return LogProgress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[info]}"),
    )


@contextmanager
def progress_bars() -> Iterator[Callable[[str, int, int], None]]:
    """A ``(stage, done, total)`` callback drawing one rich progress bar per stage."""
    with make_progress() as progress:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = progress.add_task(stage, total=total, info="")
            progress.update(tasks[stage], completed=done)

        yield update


def print_table(console: Console, table: RenderableType) -> None:
    """Print a table readable where it lands. On a terminal (or with ``COLUMNS`` set): at that width (our
    tables fit 80 columns). Off a terminal (a log, CI), where rich would squeeze it into 80 columns
    (``meth… succ…``): at its natural width."""
    if console.is_terminal or "COLUMNS" in os.environ:
        console.print(table)
        return
    width = console.width
    console.width = max(width, console.measure(table, options=console.options.update_width(1000)).maximum)
    try:
        console.print(table)
    finally:
        console.width = width
