"""Closed-loop sessions: one ``LatentMPC`` per client episode, kept until deleted or idle too long.

Touched only from the event loop (the planning thread sees a session's controller, never the
store). A session serves one request at a time; one whose request timed out while planning has
moved on without its client and refuses further frames.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field

from jepaworld.config import PlanConfig
from jepaworld.plan.mpc import LatentMPC


@dataclass(eq=False)
class Session:
    id: str
    controller: LatentMPC
    cfg: PlanConfig
    key: Hashable
    last_used: float
    busy: bool = False
    broken: str | None = None  # why the session refuses frames
    steps: int = 0
    created: float = field(default_factory=time.time)


class SessionStore:
    """Sessions by id, at most ``max_sessions``; idle ones expire after ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float, max_sessions: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s, self.max_sessions, self.clock = ttl_s, max_sessions, clock
        self._sessions: dict[str, Session] = {}
        self.expired = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def new_id(self) -> str:
        return secrets.token_urlsafe(16)

    def full(self) -> bool:
        self.sweep()
        return len(self._sessions) >= self.max_sessions

    def add(self, session: Session) -> None:
        session.last_used = self.clock()
        self._sessions[session.id] = session

    def get(self, session_id: str) -> Session | None:
        s = self._sessions.get(session_id)
        if s is None:
            return None
        if not s.busy and self.clock() - s.last_used > self.ttl_s:
            self._drop(session_id)
            return None
        s.last_used = self.clock()
        return s

    def remove(self, session_id: str) -> bool:
        return self._sessions.pop(session_id, None) is not None

    def sweep(self) -> int:
        """Drop sessions idle for longer than the TTL (never one with a request in flight)."""
        now = self.clock()
        stale = [k for k, s in self._sessions.items() if not s.busy and now - s.last_used > self.ttl_s]
        for k in stale:
            self._drop(k)
        return len(stale)

    def _drop(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)
        self.expired += 1
