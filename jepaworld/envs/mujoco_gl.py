"""Offscreen OpenGL for the MuJoCo environments, chosen before MuJoCo is first imported.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is imported, so the backend has to be settled
first. :func:`require_mujoco` does that: a backend the user set is kept; otherwise each of
``egl`` (Mesa's or a GPU's EGL, no display needed) and ``osmesa`` (software) is tried in a short
child process that opens an 8x8 context, and the first that works is exported, so worker
processes started later inherit it without probing again. Missing packages and missing GL
libraries raise :class:`MujocoUnavailable`, a ``JepaworldError`` that says what to install.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import subprocess
import sys

from jepaworld.errors import JepaworldError

BACKENDS = ("egl", "osmesa")
INSTALL = "pip install -e '.[mujoco]'"
_PROBE = "import mujoco; c = mujoco.GLContext(8, 8); c.make_current(); c.free()"


class MujocoUnavailable(JepaworldError):
    """MuJoCo, dm_control or an offscreen OpenGL backend is missing."""


def _probe(backend: str) -> str | None:
    """None when ``backend`` opens a context in a child process, else the last line of its error."""
    env = {**os.environ, "MUJOCO_GL": backend, "PYOPENGL_PLATFORM": backend}
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return "timed out opening a context"
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    return lines[-1] if lines else f"exit code {done.returncode}"


@functools.cache
def require_mujoco(env_name: str = "this environment", packages: tuple[str, ...] = ("mujoco", "dm_control")) -> str:
    """Make sure ``packages`` import and MuJoCo can render offscreen; returns the backend.

    Raises :class:`MujocoUnavailable` naming what is missing (the extra, or EGL/OSMesa libraries).
    """
    missing = [name for name in packages if importlib.util.find_spec(name) is None]
    if missing:
        raise MujocoUnavailable(f"{env_name} needs {' and '.join(missing)}: install the extra with {INSTALL}")
    chosen = os.environ.get("MUJOCO_GL")
    if chosen:  # the user's choice
        return chosen
    if "mujoco" in sys.modules:  # too late to choose: MuJoCo took its default (GLFW, which needs a display)
        if os.environ.get("DISPLAY") or sys.platform in ("darwin", "win32"):
            return "glfw"
        raise MujocoUnavailable(
            f"{env_name}: mujoco was imported before jepaworld could choose an offscreen OpenGL backend, and "
            "there is no display for its default (GLFW). Set MUJOCO_GL=egl (or osmesa) in the environment, or "
            "build the env before importing mujoco yourself"
        )
    errors = {}
    for backend in BACKENDS:
        error = _probe(backend)
        if error is None:
            os.environ["MUJOCO_GL"] = backend
            os.environ.setdefault("PYOPENGL_PLATFORM", backend)
            return backend
        errors[backend] = error
    tried = "; ".join(f"{b}: {e}" for b, e in errors.items())
    raise MujocoUnavailable(
        f"{env_name} renders with MuJoCo offscreen, but no OpenGL backend works here ({tried}). Install EGL "
        "(Debian/Ubuntu: apt-get install libegl1 libgl1) or OSMesa (apt-get install libosmesa6), or set "
        "MUJOCO_GL to a backend that works"
    )
