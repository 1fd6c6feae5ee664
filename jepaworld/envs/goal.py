"""The goal-reaching capability: what an environment needs for planning toward goal images and
for the evaluation protocol (start on a held-out trajectory, goal later on it, success test).

An environment has it when it has these methods (jepaworld's own environments do; a Gymnasium
environment of yours can add them, on the env class itself)::

    class MyEnv(gymnasium.Env):
        def get_state(self) -> np.ndarray: ...                 # low-dimensional state now
        def set_state(self, state) -> None: ...                # put the env in that state
        def render_state(self, state) -> np.ndarray: ...       # uint8 (H, W, 3) image of a state: a goal image
        def is_success(self, state, goal) -> bool: ...         # the task's success test
        def goal_distance(self, state, goal) -> float: ...     # optional: what the test thresholds

``render()`` must show the state set by ``set_state``. Collect with ``jepaworld collect --env
gymnasium:ID`` (the state column is then ``get_state()``), train, and ``jepaworld eval`` runs the
protocol on it. An environment without the capability is refused with the list of what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, ClassVar, Protocol, runtime_checkable

import numpy as np

from jepaworld.errors import JepaworldError


@runtime_checkable
class GoalEnv(Protocol):
    """The goal-reaching capability (``GOAL_METHODS``); ``goal_distance`` is optional (:class:`GoalDistance`)."""

    def get_state(self) -> np.ndarray: ...

    def set_state(self, state: np.ndarray) -> None: ...

    def render_state(self, state: np.ndarray) -> np.ndarray: ...

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool: ...


@runtime_checkable
class GoalDistance(Protocol):
    """An env that says what its success test thresholds."""

    def goal_distance(self, state: np.ndarray, goal: np.ndarray) -> float: ...


class GoalGymEnv(GoalEnv, Protocol):
    """A Gymnasium env with the goal-reaching capability, as the episode loop steps it
    (``jepaworld.envs.pool`` hands these out; :func:`as_goal_env` checks an env for it)."""

    @property
    def unwrapped(self) -> Any: ...

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        ...

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]: ...

    def render(self) -> Any: ...

    def close(self) -> None: ...


GOAL_METHODS: dict[str, str] = {
    "get_state": "get_state() -> np.ndarray, the low-dimensional state now",
    "set_state": "set_state(state), which puts the env in a given state (the episode's start)",
    "render_state": "render_state(state) -> uint8 (H, W, 3), the image of a state (the goal image)",
    "is_success": "is_success(state, goal) -> bool, the task's success test",
}


class GoalCapabilityError(JepaworldError):
    """An environment lacks a method that goal-reaching evaluation or planning needs."""


def goal_provider(env: Any) -> GoalEnv:
    """The object whose methods provide the capability (a ``PixelEnv`` names its wrapped env); check it
    with :func:`require_goal_env` first where ``env`` may lack it."""
    provider = getattr(env, "goal_provider", None)
    return provider if provider is not None else env


def missing_goal_methods(env: Any) -> list[str]:
    """The names of ``GOAL_METHODS`` that ``env`` lacks (empty: it has the capability)."""
    target = goal_provider(env)
    return [name for name in GOAL_METHODS if not callable(getattr(target, name, None))]


def require_goal_env(env: Any, name: str, purpose: str = "goal-reaching evaluation") -> None:
    """Raise ``GoalCapabilityError`` saying exactly what ``env`` (called ``name``) lacks for ``purpose``."""
    missing = missing_goal_methods(env)
    if missing:
        lines = "; ".join(GOAL_METHODS[m] for m in missing)
        raise GoalCapabilityError(
            f"{name} cannot be used for {purpose}: it lacks {', '.join(missing)} ({lines}). Add these methods to "
            "the environment class (see jepaworld.envs.goal for a short example)"
        )


def as_goal_env(env: Any, name: str, purpose: str = "goal-reaching evaluation") -> GoalGymEnv:
    """``env`` (a Gymnasium env called ``name``) once :func:`require_goal_env` found the capability in it."""
    require_goal_env(env, name, purpose)
    return env


def goal_distance(env: Any, state: np.ndarray, goal: np.ndarray) -> float:
    """The env's ``goal_distance`` where it has one, else the Euclidean distance of the states."""
    provider = goal_provider(env)
    if isinstance(provider, GoalDistance):
        return float(provider.goal_distance(state, goal))
    return float(np.linalg.norm(np.asarray(state, np.float32) - np.asarray(goal, np.float32)))


class GoalTask:
    """The goal methods of jepaworld's own environments, from their module's pure task functions.

    An env class sets ``success_test`` and ``distance`` (``staticmethod`` of the module's ``is_success``
    and ``goal_distance``, both ``(state, goal)``), keeps its goal in ``_goal`` and has ``get_state``.
    """

    success_test: ClassVar[staticmethod[[np.ndarray, np.ndarray], bool]]
    distance: ClassVar[staticmethod[[np.ndarray, np.ndarray], float]]
    _goal: np.ndarray
    get_state: Callable[[], np.ndarray]

    @property
    def goal(self) -> np.ndarray:
        return self._goal.copy()

    def is_success(self, state: np.ndarray, goal: np.ndarray) -> bool:
        """The task's success test (the env module's ``is_success``)."""
        return self.success_test(np.asarray(state), np.asarray(goal))

    def goal_distance(self, state: np.ndarray, goal: np.ndarray) -> float:
        """What ``is_success`` thresholds (the env module's ``goal_distance``)."""
        return self.distance(np.asarray(state), np.asarray(goal))

    def _info(self) -> dict[str, Any]:
        state = self.get_state()
        return {"state": state, "goal": self._goal.copy(), "success": self.success_test(state, self._goal)}


@contextmanager
def kept_physics(data: Any, settle: Callable[[], None]) -> Iterator[None]:
    """Restore a MuJoCo ``data``'s joint positions, velocities and controls on leaving, then ``settle()``
    (recompute what follows from them): ``render_state`` draws any state and leaves the simulation as it was."""
    saved = data.qpos.copy(), data.qvel.copy(), data.ctrl.copy()
    try:
        yield
    finally:
        data.qpos[:], data.qvel[:], data.ctrl[:] = saved
        settle()
