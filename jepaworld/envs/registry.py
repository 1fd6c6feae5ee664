"""Environments by name: ``"tworoom"``, ``"pusht"``, ``"reacher"``, ``"cube"`` or ``"gymnasium:ID"``.

Reacher and Cube need the ``mujoco`` extra (``pip install -e '.[mujoco]'``): without it, asking for
their spec or building one raises a ``JepaworldError`` saying how to install it.

``gymnasium:ID`` needs ``ID`` registered with Gymnasium; ``gymnasium:package.module:ID`` imports
``package.module`` first (where your ``gymnasium.register`` call lives), so the command line can
reach environments of your own.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import gymnasium as gym
import numpy as np

from jepaworld.envs import cube, experts, pusht, pusht_expert, reacher, tworoom
from jepaworld.envs.mujoco_gl import require_mujoco
from jepaworld.envs.pixels import PixelEnv, flat_dim
from jepaworld.envs.state import StateLayout
from jepaworld.errors import JepaworldError

GYM_PREFIX = "gymnasium:"
RECORDED_PREFIX = "lerobot:"  # episodes imported from a LeRobot dataset: recorded, no simulator behind them
PolicyFactory = Callable[[gym.Env, np.random.Generator, float], experts.Policy]


class UnknownEnvError(JepaworldError):
    """An environment name that is neither built in nor ``gymnasium:ID`` of a registered env."""


@dataclass(frozen=True)
class EnvSpec:
    """What the rest of jepaworld needs to know about an environment besides the env itself.

    The success test, goal images and state setting are the env's own methods (the goal-reaching
    capability, ``jepaworld.envs.goal``).
    """

    name: str
    gym_id: str
    action_dim: int
    make_policy: PolicyFactory  # scripted expert (random for plain Gymnasium envs)
    action_low: np.ndarray  # (A,) bounds of the action box
    action_high: np.ndarray
    heuristic: Callable[[np.ndarray, np.ndarray], np.ndarray] | None = None  # (state, goal) -> action
    # named episode subsets for ``eval --subset`` besides "all": name -> (start, goal) -> keep the pair
    subsets: Mapping[str, Callable[[np.ndarray, np.ndarray], bool]] = field(default_factory=dict)
    dynamics: str | None = None  # version of the env's dynamics; data collected under another is refused
    requires: Callable[[], object] | None = None  # raises a JepaworldError saying what to install, if anything
    layout: StateLayout | None = None  # what the state means (None: read column by column)


_BUILTIN = {
    "tworoom": EnvSpec(
        name="tworoom",
        gym_id="jepaworld/TwoRoom-v0",
        action_dim=2,
        make_policy=experts.tworoom_expert,
        action_low=-np.ones(2, np.float32),
        action_high=np.ones(2, np.float32),
        heuristic=experts.heuristic,
        subsets={"cross-wall": tworoom.cross_wall, "far-corner": tworoom.far_corner},
        dynamics=tworoom.DYNAMICS,
        layout=tworoom.LAYOUT,
    ),
    "pusht": EnvSpec(
        name="pusht",
        gym_id="jepaworld/PushT-v0",
        action_dim=2,
        make_policy=pusht_expert.pusht_expert,
        action_low=-np.ones(2, np.float32),
        action_high=np.ones(2, np.float32),
        heuristic=pusht_expert.agent_to_goal,
        dynamics=pusht.DYNAMICS,
        layout=pusht.LAYOUT,
    ),
    "reacher": EnvSpec(
        name="reacher",
        gym_id="jepaworld/Reacher-v0",
        action_dim=2,
        make_policy=reacher.reacher_expert,
        action_low=-np.ones(2, np.float32),
        action_high=np.ones(2, np.float32),
        heuristic=reacher.heuristic,
        dynamics=reacher.DYNAMICS,
        layout=reacher.LAYOUT,
        requires=lambda: require_mujoco("Reacher"),
    ),
    "cube": EnvSpec(
        name="cube",
        gym_id="jepaworld/Cube-v0",
        action_dim=5,
        make_policy=cube.cube_expert,
        action_low=-np.ones(5, np.float32),
        action_high=np.ones(5, np.float32),
        heuristic=cube.heuristic,
        dynamics=cube.DYNAMICS,
        layout=cube.LAYOUT,
        requires=lambda: require_mujoco("Cube", cube.PACKAGES),
    ),
}


def names() -> list[str]:
    return sorted(_BUILTIN) + [f"{GYM_PREFIX}ID"]


def state_layout(name: str) -> StateLayout | None:
    """What ``name``'s state means (None for an env without a declared layout). Reads no extra and
    builds nothing: probes and memories of a run read it without the simulator installed."""
    spec = _BUILTIN.get(name)
    return spec.layout if spec is not None else None


def _gym_id(name: str) -> str:
    gym_id = name[len(GYM_PREFIX) :]
    if ":" in gym_id:  # package.module:ID, importable from the working directory (as collect's policies)
        module, gym_id = gym_id.rsplit(":", 1)
        if os.getcwd() not in sys.path:
            sys.path.insert(0, os.getcwd())
        try:
            importlib.import_module(module)
        except ImportError as e:
            raise UnknownEnvError(f"{name!r}: cannot import {module!r} ({e}); is it importable from here?") from None
    if gym_id not in gym.registry:
        raise UnknownEnvError(
            f"unknown Gymnasium id {gym_id!r} (from {name!r}); register it first (gymnasium.register), name the "
            f"module that registers it (gymnasium:package.module:ID), or use one of: {', '.join(names())}"
        )
    return gym_id


def is_recorded(name: str) -> bool:
    """Whether ``name`` is the env of recorded episodes (``jepaworld data import lerobot``): no simulator."""
    return name.startswith(RECORDED_PREFIX)


def get_spec(name: str) -> EnvSpec:
    """The :class:`EnvSpec` of ``name``; raises :class:`UnknownEnvError` listing valid names, and a
    ``JepaworldError`` saying what to install when the env needs a missing extra (Reacher, Cube)."""
    if name in _BUILTIN:
        spec = _BUILTIN[name]
        if spec.requires is not None:
            spec.requires()
        return spec
    if name.startswith(GYM_PREFIX):
        gym_id = _gym_id(name)
        probe = gym.make(gym_id)
        try:
            action_dim = flat_dim(probe.action_space)
            space = probe.action_space
            low = np.asarray(getattr(space, "low", np.zeros(action_dim)), np.float32).reshape(-1)
            high = np.asarray(getattr(space, "high", np.ones(action_dim)), np.float32).reshape(-1)
        finally:
            probe.close()
        return EnvSpec(name, gym_id, action_dim, make_policy=experts.random_policy, action_low=low, action_high=high)
    if is_recorded(name):
        raise UnknownEnvError(
            f"{name!r} is a recorded dataset (imported from LeRobot), not a simulator: what resets or steps an env "
            "(eval, distill, the surprise perturbation test) cannot run on it; evaluate the run offline with "
            "`jepaworld offline-eval RUN`"
        )
    raise UnknownEnvError(f"unknown environment {name!r}; valid names: {', '.join(names())}")


def make(name: str, resolution: int = 64, **kwargs) -> gym.Env:
    """A Gymnasium env whose observations are ``uint8 (resolution, resolution, 3)`` frames."""
    if name == "tworoom":
        return tworoom.TwoRoomEnv(resolution=resolution, **kwargs)
    if name == "pusht":
        return pusht.PushTEnv(resolution=resolution, **kwargs)
    if name == "reacher":
        return reacher.ReacherEnv(resolution=resolution, **kwargs)
    if name == "cube":
        return cube.CubeEnv(resolution=resolution, **kwargs)
    if name.startswith(GYM_PREFIX):
        inner = gym.make(_gym_id(name), render_mode="rgb_array", **kwargs)
        return PixelEnv(inner, resolution)
    raise UnknownEnvError(f"unknown environment {name!r}; valid names: {', '.join(names())}")
