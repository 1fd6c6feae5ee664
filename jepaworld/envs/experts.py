"""Scripted policies: Two-Room's noisy expert, a straight-to-goal heuristic, a random policy.

A policy is ``policy(obs, state) -> action``: ``obs`` uint8 ``(H, W, 3)``, ``state`` float32
``(S,)``, action float32 ``(A,)``. A policy *factory* ``make_policy(env, rng, noise)`` builds a
fresh (possibly stateful) policy for one episode.
"""

from __future__ import annotations

from collections.abc import Callable

import gymnasium as gym
import numpy as np

from jepaworld.envs import tworoom as tr
from jepaworld.errors import JepaworldError

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Waypoints one step outside the wall band on either side of the door, on its centre line: the
# straight crossing between them keeps y within noise of DOOR_Y, well inside the door band
# (DOOR_Y +- 15.75), so the wall never pushes the agent back.
_DOOR_LEFT = np.array([tr.STOP_LEFT - tr.SPEED, tr.DOOR_Y], np.float32)
_DOOR_RIGHT = np.array([tr.STOP_RIGHT + tr.SPEED, tr.DOOR_Y], np.float32)
_WAYPOINT_PX = 3.0


def heuristic(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Straight toward ``goal`` at full speed, slowing to land on it; ignores walls and the door.

    ``state``, ``goal``: ``(2,)`` canvas pixels (also batched ``(B, 2)``). Returns float32 in [-1, 1].
    """
    v = (np.asarray(goal, np.float32) - np.asarray(state, np.float32)) / tr.SPEED
    peak = np.maximum(np.abs(v).max(axis=-1, keepdims=True), 1.0)  # keep the direction when clipping
    return (v / peak).astype(np.float32)


def route(state: np.ndarray, target: np.ndarray) -> list[np.ndarray]:
    """Waypoints ``[(2,), ...]`` from ``state`` to ``target``: through the door when across the wall."""
    target = np.asarray(target, np.float32)
    if not tr.cross_wall(state, target):
        return [target]
    return [_DOOR_LEFT, _DOOR_RIGHT, target] if state[0] < tr.WALL_X else [_DOOR_RIGHT, _DOOR_LEFT, target]


class TwoRoomExpert:
    """Noisy expert: go to a random target (anywhere; via the door when it is across the wall),
    pick a new one on arrival. Gaussian action noise of std ``noise``, clipped to [-1, 1].
    ``go_to(state, target)`` sets the next target explicitly."""

    def __init__(self, rng: np.random.Generator, noise: float = 0.3):
        self.rng, self.noise = rng, noise
        self.plan: list[np.ndarray] = []

    def go_to(self, state: np.ndarray, target: np.ndarray) -> None:
        self.plan = route(np.asarray(state, np.float32), target)

    def __call__(self, obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, np.float32)
        while self.plan and np.hypot(*(self.plan[0] - state)) <= _WAYPOINT_PX:
            self.plan.pop(0)
        if not self.plan:
            self.go_to(state, tr.sample_free(self.rng))
        action = heuristic(state, self.plan[0]) + self.noise * self.rng.standard_normal(2).astype(np.float32)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def tworoom_expert(env: gym.Env, rng: np.random.Generator, noise: float = 0.3) -> TwoRoomExpert:
    """Policy factory for Two-Room's scripted expert (``env`` unused)."""
    return TwoRoomExpert(rng, noise)


def random_policy(env: gym.Env, rng: np.random.Generator, noise: float = 0.0) -> Policy:
    """Uniformly random actions from ``env.action_space`` drawn with ``rng`` (``noise`` unused)."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise JepaworldError(f"random policy needs a Box action space, got {space}")
    low = np.where(np.isfinite(space.low), space.low, -1.0).astype(np.float32)
    high = np.where(np.isfinite(space.high), space.high, 1.0).astype(np.float32)

    def policy(obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        return rng.uniform(low, high).astype(np.float32)

    return policy
