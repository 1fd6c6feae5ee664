"""The reactive baselines every evaluation runs beside the world model, as controllers.

They read the true state and the goal state (``ReadsState``), not the frames, and act every env step
(``frameskip`` 1): random actions always; the env's straight-to-goal heuristic where it has one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from jepaworld.envs import EnvSpec
from jepaworld.errors import JepaworldError

# A reactive baseline: (state (S,), goal (S,), rng) -> raw action (A,)
GoalPolicy = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


class PolicyController:
    """``policy(state, goal, rng)`` for every env, every step; ``rng`` seeded with ``seed`` at each ``reset``."""

    frameskip = 1

    def __init__(self, policy: GoalPolicy, seed: int = 0) -> None:
        self.policy, self.seed = policy, seed
        self.rng = np.random.default_rng(seed)
        self.states: np.ndarray | None = None
        self.goals: np.ndarray | None = None

    def reset(self, goal_frames: np.ndarray) -> None:
        self.rng = np.random.default_rng(self.seed)

    def see_states(self, states: np.ndarray, goals: np.ndarray) -> None:
        self.states, self.goals = states, goals

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """-> (B, 1, A); every row draws from ``rng`` in turn, finished or not (their actions are not executed)."""
        if self.states is None or self.goals is None:
            raise JepaworldError("PolicyController reads the true states: run it with jepaworld.control.run_episodes")
        actions = [self.policy(s, g, self.rng) for s, g in zip(self.states, self.goals, strict=True)]
        return np.stack(actions)[:, None]


def baseline_policies(spec: EnvSpec) -> dict[str, GoalPolicy]:
    """Random actions always; the env's straight-to-goal heuristic where it has one."""
    low, high = spec.action_low, spec.action_high

    def random_policy(state: np.ndarray, goal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(low, high).astype(np.float32)

    policies: dict[str, GoalPolicy] = {"random actions": random_policy}
    if spec.heuristic is not None:  # Two-Room: the agent to the goal; Push-T: the agent only, ignoring the block
        heuristic = spec.heuristic
        policies["straight-to-goal heuristic"] = lambda s, g, rng: heuristic(s, g)
    return policies


def baselines(spec: EnvSpec, seed: int = 0) -> dict[str, PolicyController]:
    """The baselines of ``spec`` as named controllers."""
    return {name: PolicyController(policy, seed) for name, policy in baseline_policies(spec).items()}
