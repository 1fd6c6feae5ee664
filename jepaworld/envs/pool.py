"""Built environments kept for reuse: a Cube env costs seconds to build (OGBench compiles its scene, a
renderer opens an OpenGL context), far more than an evaluation episode's steps on it.

:func:`take` hands out an idle env of that name and resolution (or builds one with
:func:`jepaworld.envs.make`); :func:`give` takes it back instead of closing it. Only env classes
that declare ``reusable = True`` are kept: their ``reset(seed=...)`` puts the simulation back where a
freshly built env starts (tests/test_cube.py, tests/test_reacher.py check that an episode on a reused
env equals the same episode on a new one); any other env is built on every :func:`take` and closed by
:func:`give`, as before. At most :data:`KEEP` idle envs per (name, resolution) are kept; :func:`clear`
closes them all.
"""

from __future__ import annotations

from jepaworld.envs.goal import GoalGymEnv, as_goal_env
from jepaworld.envs.registry import make

KEEP = 64  # idle envs kept per (name, resolution): an evaluation's batch at most
_idle: dict[tuple[str, int], list[GoalGymEnv]] = {}
_lent: dict[int, tuple[str, int]] = {}  # id(env) -> its key, while lent and reusable


def reusable(env: GoalGymEnv) -> bool:
    """Whether ``env``'s class declares that a seeded reset makes it as good as new."""
    return bool(getattr(type(env.unwrapped), "reusable", False))


def take(name: str, resolution: int = 64) -> GoalGymEnv:
    """An env ``name`` at ``resolution``: an idle one when there is one, else a new one. Reset it before use.
    It must have the goal-reaching capability (``jepaworld.envs.goal``), else ``GoalCapabilityError``."""
    key = (name, int(resolution))
    idle = _idle.get(key)
    env = idle.pop() if idle else as_goal_env(make(name, resolution=resolution), name, "the episode loop")
    if reusable(env):
        _lent[id(env)] = key
    return env


def give(env: GoalGymEnv) -> None:
    """Hand back an env from :func:`take`: kept for the next :func:`take` if reusable, closed otherwise."""
    key = _lent.pop(id(env), None)
    if key is None or len(_idle.setdefault(key, [])) >= KEEP:
        env.close()
        return
    _idle[key].append(env)


def clear() -> None:
    """Close every idle env (those lent out stay with their borrowers and are closed by :func:`give`)."""
    for envs in _idle.values():
        for env in envs:
            env.close()
    _idle.clear()
