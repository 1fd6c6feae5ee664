"""Closed-loop sessions: one ``LatentMPC`` per client episode, kept (``SessionStore``) until deleted or idle too long.

Touched only from the event loop (the planning thread sees a session's controller, never the
store). A session serves one request at a time; one whose request timed out while planning has
moved on without its client and refuses further frames.
"""

from __future__ import annotations

import time
from collections.abc import Hashable
from dataclasses import dataclass, field

from jepaworld.config import PlanConfig
from jepaworld.hosting.sessions import SessionStore
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
    client: str = ""  # the address that made it (per-client quota)


__all__ = ["Session", "SessionStore"]
