"""Mid-episode perturbations for goal-reaching evaluation: what a surprise guard is for.

At env step ``step`` of every episode still running, the runner reads the env's state, replaces it
with ``fn(state, rng)`` (``set_state``, the goal-reaching capability) and renders the new frame;
the controller only sees the frame. ``rng`` is seeded by (seed, episode index), so every method of
one evaluation meets the same perturbation in the same episode.

    perturbation = make_perturbation("tworoom", "teleport", step=15, seed=0)

``teleport`` is what the env's ``StateLayout.perturb`` declares: Two-Room, the agent moves to a
uniformly random free position, either room; Push-T, the block moves to a random pose inside the
walls, clear of the agent; Reacher, the arm jumps to a random configuration at rest.
``register_perturbation(env, kind, description)`` adds one for another env.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jepaworld.envs import names, state_layout
from jepaworld.envs.state import PerturbFn
from jepaworld.errors import JepaworldError

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


def _registered(env: str, kind: str) -> tuple[PerturbFn, str] | None:
    """Perturbation ``kind`` of ``env``: registered, or for ``teleport`` the env's ``StateLayout.perturb``."""
    if (env, kind) in _REGISTRY:
        return _REGISTRY[(env, kind)]
    layout = state_layout(env)
    return layout.perturb if kind == "teleport" and layout is not None else None


def make_perturbation(env: str, kind: str, step: int, seed: int) -> Perturbation | None:
    """The registered perturbation ``kind`` of ``env`` at env step ``step`` (None for ``kind == "none"``)."""
    if kind == "none":
        return None
    if kind not in KINDS:
        raise JepaworldError(f"unknown --perturb {kind!r}; expected one of {', '.join(KINDS)}")
    if step < 1:
        raise JepaworldError(f"--perturb-step must be >= 1, got {step}")
    found = _registered(env, kind)
    if found is None:
        known = ", ".join(sorted(e for e in {*names(), *(e for e, _ in _REGISTRY)} if _registered(e, kind)))
        raise JepaworldError(
            f"{env} has no {kind!r} perturbation (registered for: {known}); add one with "
            "jepaworld.control.register_perturbation"
        )
    fn, description = found
    return Perturbation(env=env, kind=kind, step=step, seed=seed, fn=fn, description=description)
