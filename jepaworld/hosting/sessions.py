"""Sessions by id, bounded in number, dropped after ``ttl_s`` seconds idle (never while busy).

A session is any object with ``id: str``, ``busy: bool`` and ``last_used: float``; the store sets
``last_used`` on every ``add`` and ``get``. ``on_drop`` sees every session that leaves (expired or
removed), e.g. to close its environment. Not thread-safe: callers touch it from one event loop or
under a lock.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class Expiring(Protocol):
    id: str
    busy: bool
    last_used: float


S = TypeVar("S", bound=Expiring)


class SessionStore(Generic[S]):
    """Sessions by id, at most ``max_sessions``; idle ones expire after ``ttl_s`` seconds."""

    def __init__(self, ttl_s: float, max_sessions: int, clock: Callable[[], float] = time.monotonic,
                 on_drop: Callable[[S], None] | None = None) -> None:  # fmt: skip
        self.ttl_s, self.max_sessions, self.clock, self.on_drop = ttl_s, max_sessions, clock, on_drop
        self._sessions: dict[str, S] = {}
        self.expired = 0

    def __len__(self) -> int:
        return len(self._sessions)

    def new_id(self) -> str:
        return secrets.token_urlsafe(16)

    def full(self) -> bool:
        self.sweep()
        return len(self._sessions) >= self.max_sessions

    def add(self, session: S) -> None:
        session.last_used = self.clock()
        self._sessions[session.id] = session

    def get(self, session_id: str) -> S | None:
        s = self._sessions.get(session_id)
        if s is None:
            return None
        if not s.busy and self.clock() - s.last_used > self.ttl_s:
            self._drop(session_id)
            return None
        s.last_used = self.clock()
        return s

    def remove(self, session_id: str) -> bool:
        s = self._sessions.pop(session_id, None)
        if s is not None and self.on_drop is not None:
            self.on_drop(s)
        return s is not None

    def clear(self) -> None:
        """Remove every session (a server shutting down)."""
        for session_id in list(self._sessions):
            self.remove(session_id)

    def sweep(self) -> int:
        """Drop sessions idle for longer than the TTL (never one with a request in flight)."""
        now = self.clock()
        stale = [k for k, s in self._sessions.items() if not s.busy and now - s.last_used > self.ttl_s]
        for k in stale:
            self._drop(k)
        return len(stale)

    def _drop(self, session_id: str) -> None:
        s = self._sessions.pop(session_id, None)
        if s is not None:
            self.expired += 1
            if self.on_drop is not None:
                self.on_drop(s)
