"""Entities a memory tracks per env, as columns of the env state, and a linear probe that decodes them.

Each env's ``StateLayout`` (``jepaworld.envs.state``) names them: Two-Room the agent (x, y); Push-T
the agent (x, y) and the block (x, y, angle); Reacher the arm (shoulder, wrist); Cube the effector
(x, y, z), the gripper (opening) and the cube (x, y, z). An env without a layout: one entity ``state``
with every state column. ``StateDecoder`` is a ridge probe (``model.linear_probe``, as the science
probes') from embeddings to the env state; an angle column is fitted as (sin, cos)
and read back with atan2, so it does not wrap.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from jepaworld.config import json_text
from jepaworld.envs import state_layout
from jepaworld.errors import JepaworldError
from jepaworld.model.linear_probe import ridge_solve

Entities = dict[str, tuple[list[int], list[str]]]  # name -> (state columns, field names)


def env_entities(env: str, state_dim: int) -> Entities:
    """The entities of ``env`` whose states have ``state_dim`` columns."""
    layout = state_layout(env)
    if layout is not None:
        return {name: (list(cols), list(fields)) for name, (cols, fields) in layout.entities.items()}
    return {"state": (list(range(state_dim)), [f"s{i}" for i in range(state_dim)])}


@dataclass
class StateDecoder:
    """``decode(z (N, D)) -> env state (N, S)``: ridge regression on standardised embeddings."""

    mean: np.ndarray  # (D,)
    std: np.ndarray  # (D,)
    weight: np.ndarray  # (D, K)
    bias: np.ndarray  # (K,)
    angles: list[int]  # state columns fitted as (sin, cos)
    state_dim: int

    @classmethod
    def fit(cls, z: np.ndarray, state: np.ndarray, env: str, lam: float = 1e-3) -> StateDecoder:
        layout = state_layout(env)
        angles = [a for a in (layout.angle_columns if layout else []) if a < state.shape[1]]
        targets = _targets(np.asarray(state, np.float64), angles)
        mean, std = z.mean(0), np.maximum(z.std(0), 1e-6)
        w, b = ridge_solve((z - mean) / std, targets, lam)
        return cls(mean, std, w, b, angles, int(state.shape[1]))

    def decode(self, z: np.ndarray) -> np.ndarray:
        y = ((np.asarray(z, np.float64) - self.mean) / self.std) @ self.weight + self.bias
        out, k = np.zeros((len(y), self.state_dim), np.float32), 0
        for col in range(self.state_dim):
            if col in self.angles:
                out[:, col] = np.arctan2(y[:, k], y[:, k + 1])
                k += 2
            else:
                out[:, col] = y[:, k]
                k += 1
        return out

    def to_json(self) -> str:
        return json_text(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> StateDecoder:
        d = json.loads(text)
        mean, std, weight, bias = (np.asarray(d[k]) for k in ("mean", "std", "weight", "bias"))
        return cls(mean, std, weight, bias, d["angles"], d["state_dim"])


def _targets(state: np.ndarray, angles: list[int]) -> np.ndarray:
    cols = []
    for col in range(state.shape[1]):
        cols += [np.sin(state[:, col]), np.cos(state[:, col])] if col in angles else [state[:, col]]
    return np.column_stack(cols)


@dataclass(frozen=True)
class Condition:
    """``ENTITY within RADIUS of VALUES``: the entity's first len(values) fields within ``radius`` (Euclidean)."""

    entity: str
    at: tuple[float, ...]
    within: float

    def columns(self, entities: Entities) -> list[int]:
        if self.entity not in entities:
            raise JepaworldError(f"no entity {self.entity!r} in this memory; it tracks: {', '.join(entities)}")
        cols, fields = entities[self.entity]
        if not 1 <= len(self.at) <= len(cols):
            raise JepaworldError(f"{self.entity} has fields {', '.join(fields)}: give 1 to {len(cols)} values to --at, "
                                 f"got {len(self.at)}")  # fmt: skip
        return cols[: len(self.at)]

    def distance(self, states: np.ndarray, entities: Entities) -> np.ndarray:
        """(N, S) env states -> (N,) distance of the entity's fields to ``at``."""
        cols = self.columns(entities)
        return np.linalg.norm(np.asarray(states)[:, cols] - np.asarray(self.at, np.float32), axis=1)
