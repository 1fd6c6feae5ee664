"""What an environment's state vector means, declared once per env (``StateLayout`` on its ``EnvSpec``):
the quantities probes score, the entities a memory tracks, which columns are angles, and what a teleport
moves. An env without a layout (``gymnasium:ID``) is read column by column.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np


def wrap_angle(a: np.ndarray | float) -> np.ndarray | float:
    """Angle(s) in radians wrapped to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi


@dataclass(frozen=True)
class Quantity:
    """One quantity a state holds: its ``columns``, one ``label`` each; an ``angle`` is one column in radians,
    read as (sin, cos), with ``labels`` naming those two."""

    name: str
    columns: tuple[int, ...]
    labels: tuple[str, ...]
    angle: bool = False


@dataclass(frozen=True)
class Teleport:
    """What the surprise test's teleport moves: ``part``'s ``columns``, taken from another recorded state at
    least the median distance away on ``measure``; ``clear(state)`` accepts a candidate (None: any)."""

    part: str
    columns: tuple[int, ...]
    measure: tuple[int, ...]
    clear: Callable[[np.ndarray], bool] | None = None


PerturbFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # (state, rng) -> perturbed state


@dataclass(frozen=True)
class StateLayout:
    """What an env's state vector means, declared once (on its ``EnvSpec``) and read by the probes, the
    latent-structure plots, the memory's entities and decoder, and the perturbations.

    quantities: what probes score and structure plots colour by, in order
    entities:   what a memory tracks: name -> (state columns, field names)
    teleport:   the surprise test's teleport (None: the whole state is replaced)
    perturb:    evaluation's mid-episode ``teleport`` perturbation and its description (None: none)
    """

    quantities: tuple[Quantity, ...]
    entities: Mapping[str, tuple[list[int], list[str]]]
    teleport: Teleport | None = None
    perturb: tuple[PerturbFn, str] | None = None

    @property
    def angle_columns(self) -> list[int]:
        """The state columns that hold angles (radians)."""
        return [q.columns[0] for q in self.quantities if q.angle]
