"""Mid-episode perturbations for goal-reaching evaluation: what a surprise guard is for.

At env step ``step`` of every episode still running, the runner reads the env's state, replaces it
with ``fn(state, rng)`` (``set_state``, the goal-reaching capability) and renders the new frame;
the controller only sees the frame. ``rng`` is seeded by (seed, episode index), so every method of
one evaluation meets the same perturbation in the same episode.

    perturbation = make_perturbation("tworoom", "teleport", step=15, seed=0)

Registered: ``teleport`` for Two-Room (the agent moves to a uniformly random free position, either
room) and Push-T (the block moves to a random pose inside the walls, clear of the agent).
``register_perturbation(env, kind, description)`` adds one for another env.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jepaworld.errors import JepaworldError

PerturbFn = Callable[[np.ndarray, np.random.Generator], np.ndarray]  # (state, rng) -> perturbed state
KINDS = ("none", "teleport")


@dataclass(frozen=True)
class Perturbation:
    """``fn`` applied at env step ``step`` (>= 1) of every running episode."""

    env: str
    kind: str
    step: int
    seed: int
    fn: PerturbFn
    description: str

    def apply(self, env, episode_index: int) -> None:
        """Perturb ``env`` (which has the goal-reaching capability) for episode ``episode_index``."""
        rng = np.random.default_rng([self.seed, episode_index])
        env.set_state(self.fn(np.asarray(env.get_state(), np.float32), rng))

    def to_dict(self) -> dict[str, object]:
        return {"kind": self.kind, "step": self.step, "seed": self.seed, "description": self.description}


_REGISTRY: dict[tuple[str, str], tuple[PerturbFn, str]] = {}


def register_perturbation(env: str, kind: str, description: str) -> Callable[[PerturbFn], PerturbFn]:
    """Decorator: ``fn(state, rng) -> state`` is perturbation ``kind`` of ``env``."""

    def register(fn: PerturbFn) -> PerturbFn:
        _REGISTRY[(env, kind)] = (fn, description)
        return fn

    return register


@register_perturbation("tworoom", "teleport", "the agent is teleported to a uniformly random free position")
def _tworoom_teleport(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from jepaworld.envs.tworoom import sample_free

    return sample_free(rng)


@register_perturbation("pusht", "teleport", "the block is displaced to a random pose inside the walls, clear of "
                                            "the agent")  # fmt: skip
def _pusht_displace_block(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from jepaworld.envs import pusht

    margin = pusht.WALL_LO + pusht.WALL_RADIUS + 3.0
    out = np.array(state, np.float32, copy=True)
    for _ in range(10_000):
        pose = np.array([*rng.uniform(100.0, 400.0, 2), rng.uniform(-math.pi, math.pi)])
        corners = pusht.t_corners(pose)
        inside = corners.min() >= margin and corners.max() <= pusht.CANVAS - margin
        if inside and pusht.t_distance(out[None, :2].astype(np.float64), pose)[0] > pusht.AGENT_RADIUS + 5.0:
            out[2:5] = [pose[0], pose[1], pose[2] % (2 * math.pi)]
            if len(out) > 5:
                out[5:] = 0.0
            return out
    raise JepaworldError("no block pose clear of the agent was found")


def make_perturbation(env: str, kind: str, step: int, seed: int) -> Perturbation | None:
    """The registered perturbation ``kind`` of ``env`` at env step ``step`` (None for ``kind == "none"``)."""
    if kind == "none":
        return None
    if kind not in KINDS:
        raise JepaworldError(f"unknown --perturb {kind!r}; expected one of {', '.join(KINDS)}")
    if step < 1:
        raise JepaworldError(f"--perturb-step must be >= 1, got {step}")
    if (env, kind) not in _REGISTRY:
        known = ", ".join(sorted(e for e, k in _REGISTRY if k == kind))
        raise JepaworldError(
            f"{env} has no {kind!r} perturbation (registered for: {known}); add one with "
            "jepaworld.eval.perturb.register_perturbation"
        )
    fn, description = _REGISTRY[(env, kind)]
    return Perturbation(env=env, kind=kind, step=step, seed=seed, fn=fn, description=description)
