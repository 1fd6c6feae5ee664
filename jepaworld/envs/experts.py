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

Policy = Callable[[np.ndarray, np.ndarray], np.ndarray]

# Waypoints on either side of the door, on its centre line.
_DOOR_LEFT = np.array([tr.BAND_LO - 6.0, tr.DOOR_Y], np.float32)
_DOOR_RIGHT = np.array([tr.BAND_HI + 6.0, tr.DOOR_Y], np.float32)
_WAYPOINT_PX = 3.0


def heuristic(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Straight toward ``goal`` at full speed, slowing to land on it; ignores walls and the door.

    ``state``, ``goal``: ``(2,)`` canvas pixels (also batched ``(B, 2)``). Returns float32 in [-1, 1].
    """
    v = (np.asarray(goal, np.float32) - np.asarray(state, np.float32)) / tr.SPEED
    peak = np.maximum(np.abs(v).max(axis=-1, keepdims=True), 1.0)  # keep the direction when clipping
    return (v / peak).astype(np.float32)


def tworoom_expert(env: gym.Env, rng: np.random.Generator, noise: float = 0.3) -> Policy:
    """Noisy expert: pick a random target anywhere, go via the door when it is across the wall,
    pick a new target on arrival. Gaussian action noise of std ``noise``, clipped to [-1, 1]."""
    plan: list[np.ndarray] = []

    def policy(obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, np.float32)
        while plan and np.hypot(*(plan[0] - state)) <= _WAYPOINT_PX:
            plan.pop(0)
        if not plan:
            target = tr.sample_free(rng)
            if tr.cross_wall(state, target):
                plan.extend([_DOOR_LEFT, _DOOR_RIGHT] if state[0] < tr.WALL_X else [_DOOR_RIGHT, _DOOR_LEFT])
            plan.append(target)
        action = heuristic(state, plan[0]) + noise * rng.standard_normal(2).astype(np.float32)
        return np.clip(action, -1.0, 1.0).astype(np.float32)

    return policy


def random_policy(env: gym.Env, rng: np.random.Generator, noise: float = 0.0) -> Policy:
    """Uniformly random actions from ``env.action_space`` drawn with ``rng`` (``noise`` unused)."""
    space = env.action_space
    if not isinstance(space, gym.spaces.Box):
        raise ValueError(f"random policy needs a Box action space, got {space}")
    low = np.where(np.isfinite(space.low), space.low, -1.0).astype(np.float32)
    high = np.where(np.isfinite(space.high), space.high, 1.0).astype(np.float32)

    def policy(obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        return rng.uniform(low, high).astype(np.float32)

    return policy
