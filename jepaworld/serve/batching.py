"""Dynamic batching: one thread owns the model and plans concurrent requests together.

Requests become ``Job``s on a bounded queue. The planning thread takes the first job, waits up
to ``window_s`` for more (``max_rows`` environments at most), groups what it took by planner
settings and steps each group with ``jepaworld.plan.act_together``: one encoder call and one
planner call for every controller of the group, each exactly as if it were stepped alone.
A job whose caller gave up before the thread reached it is skipped (its future was cancelled).
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field

import numpy as np

from jepaworld.plan.mpc import LatentMPC, act_together
from jepaworld.serve.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class Step:
    """What a job's controller did, read in the planning thread right after it acted."""

    block: np.ndarray | None  # (fs, A) or (B, fs, A); None for a reset-only job
    plan: np.ndarray | None  # the current plan's raw actions
    cost: np.ndarray | None  # (B,) its latent cost
    replanned: bool
    plan_time_s: float | None
    plans: int
    rows: int  # environments in the planner call this job was part of (0: no plan this step)


@dataclass(eq=False)
class Job:
    """Reset ``controller`` toward ``goal`` (if given), then act on ``frame`` (if given)."""

    key: Hashable  # planner settings: only jobs with equal keys are planned together
    controller: LatentMPC
    frame: np.ndarray | None = None
    goal: np.ndarray | None = None
    future: Future = field(default_factory=Future)

    @property
    def rows(self) -> int:
        frame = self.frame if self.frame is not None else self.goal
        return 1 if frame is None or frame.ndim == 3 else len(frame)


class QueueFull(Exception):
    pass


class BatchWorker:
    """The planning thread. ``submit`` from any thread; ``stop`` to end it."""

    def __init__(self, metrics: Metrics, window_s: float = 0.005, max_rows: int = 64, queue_size: int = 256) -> None:
        self.window_s, self.max_rows = max(0.0, window_s), max(1, max_rows)
        self.queue: queue.Queue[Job | None] = queue.Queue(maxsize=max(1, queue_size))
        self.metrics = metrics
        self._carry: Job | None = None
        self._thread = threading.Thread(target=self._run, name="jepaworld-planner", daemon=True)
        self.busy_since: float | None = None

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        if self._thread.is_alive():
            try:
                self.queue.put(None, timeout=timeout)
            except queue.Full:
                pass
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def depth(self) -> int:
        return self.queue.qsize()

    def drop_queued(self) -> list[Job]:
        """Take every job still waiting (not the round being planned): the caller answers them."""
        jobs = []
        while True:
            try:
                job = self.queue.get_nowait()
            except queue.Empty:
                break
            if job is None:  # a stop request: keep it for the thread
                self.queue.put_nowait(None)
                break
            if job.future.set_running_or_notify_cancel():
                jobs.append(job)
        return jobs  # a job the thread already took for its next round (at most one) is planned

    def submit(self, job: Job) -> Future:
        try:
            self.queue.put_nowait(job)
        except queue.Full:
            raise QueueFull from None
        return job.future

    # ------------------------------------------------------------------------- planning thread
    def _gather(self) -> list[Job] | None:
        """The next round: the first job, then whatever arrives within the window (<= max_rows rows)."""
        first = self._carry if self._carry is not None else self.queue.get()
        self._carry = None
        if first is None:
            return None
        jobs, rows = [first], first.rows
        deadline = time.monotonic() + self.window_s
        while rows < self.max_rows:
            wait = deadline - time.monotonic()
            try:
                job = self.queue.get(timeout=wait) if wait > 0 else self.queue.get_nowait()
            except queue.Empty:
                break
            if job is None:
                self.queue.put(None)  # stop after this round
                break
            if rows + job.rows > self.max_rows:
                self._carry = job
                break
            jobs.append(job)
            rows += job.rows
        return jobs

    def _run(self) -> None:
        while True:
            jobs = self._gather()
            if jobs is None:
                return
            live = [j for j in jobs if j.future.set_running_or_notify_cancel()]
            if not live:
                continue
            self.busy_since = time.monotonic()
            try:
                self._round(live)
            except BaseException as e:  # never let one round end the thread
                log.exception("planning round failed")
                for j in live:
                    if not j.future.done():
                        j.future.set_exception(e if isinstance(e, Exception) else RuntimeError(str(e)))
            finally:
                self.busy_since = None

    def _round(self, jobs: list[Job]) -> None:
        self.metrics.batch(len(jobs))
        acting: list[Job] = []
        for j in jobs:
            if j.goal is None:
                acting.append(j)
                continue
            try:
                j.controller.reset(j.goal)
            except Exception as e:
                j.future.set_exception(e)
                continue
            if j.frame is None:
                j.future.set_result(Step(None, None, None, False, None, 0, 0))
            else:
                acting.append(j)
        groups: dict[Hashable, list[Job]] = {}
        for j in acting:
            groups.setdefault(j.key, []).append(j)
        for group in groups.values():
            self._act(group)

    def _act(self, group: list[Job]) -> None:
        ctrls = [j.controller for j in group]
        before = [c.plans for c in ctrls]
        try:
            frames = [j.frame for j in group if j.frame is not None]
            if len(frames) < len(group):
                raise ValueError("a job with no goal must have a frame to act on")
            blocks = act_together(ctrls, frames)
        except Exception as e:
            for j in group:
                j.future.set_exception(e)
            return
        replanned = [c.plans > b for c, b in zip(ctrls, before, strict=True)]
        rows = sum(len(c.z_goal) for c, r in zip(ctrls, replanned, strict=True) if r)
        if rows:
            seconds = next(c.plan_times[-1] for c, r in zip(ctrls, replanned, strict=True) if r)
            self.metrics.planned(rows, seconds)
        for j, c, block, r in zip(group, ctrls, blocks, replanned, strict=True):
            j.future.set_result(Step(
                block=block, plan=c.current_plan, cost=c.last_cost, replanned=r,
                plan_time_s=c.plan_times[-1] if c.plan_times else None, plans=c.plans, rows=rows if r else 0,
            ))  # fmt: skip
