"""Reacher: dm_control's two-link planar arm, rendered top-down, with the target sphere hidden.

The model is dm_control's own ``reacher.xml`` (suite domain ``reacher``): a 0.12 m upper arm on an
unlimited shoulder hinge, a 0.12 m forearm on a wrist limited to +-160 degrees, two torque motors
(gear 0.05, control in [-1, 1]), contacts disabled, one physics step of 0.02 s per action (the
suite's control step). The task is the published one: the goal is an *image of the arm* at a
joint configuration taken from a later step of a held-out trajectory, so the target sphere is
made invisible; success = every joint within 0.05 rad of the goal configuration (the shoulder's
difference wrapped to [-pi, pi)).

State ``(4,)`` float32: shoulder angle (wrapped to [-pi, pi)), wrist angle, their velocities
(rad/s). Frames come from the model's ``fixed`` camera. At 64 px dm_control's 1-cm capsules
are one pixel wide, so the arm's capsules are drawn ``arm_radius`` thick (visual only: contacts are
disabled and masses and inertias were fixed when the model was compiled, so the dynamics do not
change). Shadows are off: they cost ~20x per frame and carry nothing here.

MuJoCo is imported only when an env is built (``pip install -e '.[mujoco]'``); the geometry, the
success test, the expert and the heuristic below need numpy alone.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

import gymnasium as gym
import numpy as np

from jepaworld.envs.goal import GoalTask, kept_physics
from jepaworld.envs.mujoco_gl import require_mujoco
from jepaworld.envs.state import Quantity, StateLayout, wrap_angle
from jepaworld.errors import JepaworldError

DYNAMICS = "dm_control-reacher-1step"  # recorded in collected files: data of other dynamics is refused
WRIST_LIMIT = math.radians(160.0)
SUCCESS_RAD = 0.05
ARM_RADIUS = 0.02  # m, drawn (dm_control's capsules are 0.01)
CAMERA = "fixed"
# Joint damping dominates the links' tiny inertia: a joint's speed follows its torque within a step or
# two (~5 rad/s at full torque), so a proportional controller suffices (a derivative term chatters).
KP = 4.0  # full torque per rad of joint error


def joint_error(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """``goal - state`` over the two joint angles ``(..., 2)``, the shoulder's wrapped to [-pi, pi)."""
    s, g = np.asarray(state, np.float64), np.asarray(goal, np.float64)
    d = g[..., :2] - s[..., :2]
    return np.stack([wrap_angle(d[..., 0]), d[..., 1]], axis=-1)


def goal_distance(state: np.ndarray, goal: np.ndarray) -> float:
    """The largest absolute joint-angle error (rad): what :func:`is_success` thresholds."""
    return float(np.abs(joint_error(state, goal)).max())


def is_success(state: np.ndarray, goal: np.ndarray) -> bool:
    """As published: every joint within 0.05 rad of the goal configuration (velocities ignored)."""
    return goal_distance(state, goal) < SUCCESS_RAD


def sample_state(rng: np.random.Generator) -> np.ndarray:
    """A random configuration at rest ``(4,)``: shoulder anywhere, wrist within its limits."""
    return np.array([rng.uniform(-np.pi, np.pi), rng.uniform(-WRIST_LIMIT, WRIST_LIMIT), 0.0, 0.0], np.float32)


def teleport_arm(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The arm at a random configuration at rest (evaluation's ``teleport``)."""
    return sample_state(rng)


LAYOUT = StateLayout(
    quantities=(
        Quantity("shoulder angle", (0,), ("sin shoulder", "cos shoulder"), angle=True),
        Quantity("wrist angle", (1,), ("sin wrist", "cos wrist"), angle=True),
    ),
    entities={"arm": ([0, 1], ["shoulder", "wrist"])},
    perturb=(teleport_arm, "the arm is teleported to a random configuration at rest"),
)


def checked_state(state: Any) -> np.ndarray:
    """``state`` as float32 ``(4,)`` (2 values get velocity 0); :class:`JepaworldError` if invalid."""
    s = np.asarray(state, np.float64).reshape(-1)
    if s.shape not in ((2,), (4,)) or not np.all(np.isfinite(s)):
        raise JepaworldError(
            "Reacher state must be 2 or 4 finite numbers (shoulder angle, wrist angle in radians[, their "
            f"velocities in rad/s]), got {state!r}"
        )
    if abs(s[1]) > WRIST_LIMIT + 1e-3:
        raise JepaworldError(f"Reacher wrist angle {s[1]:.3f} rad is beyond its limit +-{WRIST_LIMIT:.3f} (160 deg)")
    out = np.zeros(4, np.float32)
    out[: len(s)] = s
    out[0] = wrap_angle(out[0])
    return out


def heuristic(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Proportional torques toward the goal's joint angles, clipped to [-1, 1] (also batched ``(B, 4)``)."""
    return np.clip(KP * joint_error(state, goal), -1.0, 1.0).astype(np.float32)


class ReacherExpert:
    """Noisy proportional controller toward random joint targets: a new target (shoulder anywhere, wrist
    within 0.9 of its limit) when the arm is within 0.1 rad of the current one, or after 60 steps.
    Gaussian torque noise of std ``noise``, clipped to [-1, 1]."""

    ARRIVED_RAD, MAX_STEPS = 0.1, 60

    def __init__(self, rng: np.random.Generator, noise: float = 0.3):
        self.rng, self.noise = rng, noise
        self.target: np.ndarray | None = None
        self.steps = 0

    def _new_target(self) -> np.ndarray:
        self.target = np.array([self.rng.uniform(-np.pi, np.pi), self.rng.uniform(-0.9, 0.9) * WRIST_LIMIT])
        self.steps = 0
        return self.target

    def __call__(self, obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        target = self.target
        if target is None or self.steps >= self.MAX_STEPS or goal_distance(state, target) < self.ARRIVED_RAD:
            target = self._new_target()
        self.steps += 1
        action = heuristic(state, target) + self.noise * self.rng.standard_normal(2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def reacher_expert(env: gym.Env, rng: np.random.Generator, noise: float = 0.3) -> ReacherExpert:
    """Policy factory for Reacher's scripted expert (``env`` unused)."""
    return ReacherExpert(rng, noise)


class ReacherEnv(GoalTask, gym.Env):
    """Gymnasium env; observations are rendered frames ``uint8 (res, res, 3)``.

    ``reset(options={"state": (2|4,), "goal": (2|4,)})`` places the arm and sets the goal (a random
    configuration at rest and a random goal otherwise). ``info`` carries ``state`` (4,) float32,
    ``goal`` (4,) and ``success`` (:func:`is_success`). Episodes never terminate on their own.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 50}
    success_test, distance = staticmethod(is_success), staticmethod(goal_distance)
    reusable = True  # a seeded reset starts as a new env does (jepaworld.envs.pool)

    def __init__(self, resolution: int = 64, render_mode: str | None = "rgb_array", arm_radius: float = ARM_RADIUS):
        if resolution < 8:
            raise JepaworldError(f"resolution must be >= 8 pixels, got {resolution}")
        if not 0.0 < arm_radius <= 0.05:
            raise JepaworldError(f"arm_radius must be in (0, 0.05] m, got {arm_radius}")
        require_mujoco("Reacher")
        import mujoco
        from dm_control.suite import reacher as suite_reacher

        self._mujoco = mujoco
        self.resolution = int(resolution)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 255, (resolution, resolution, 3), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        xml, assets = suite_reacher.get_model_and_assets()
        model = mujoco.MjModel.from_xml_string(xml.decode(), assets)
        target = model.geom("target").id
        model.geom_matid[target] = -1
        model.geom_rgba[target] = 0.0  # hidden: the goal is an image of the arm
        for name in ("arm", "hand"):
            model.geom(name).size[0] = arm_radius
        model.geom("finger").size[0] = max(arm_radius, model.geom("finger").size[0])
        model.vis.quality.shadowsize = 0
        model.vis.global_.offwidth = max(model.vis.global_.offwidth, self.resolution)
        model.vis.global_.offheight = max(model.vis.global_.offheight, self.resolution)
        self.model, self.data = model, mujoco.MjData(model)
        self._renderer = mujoco.Renderer(model, self.resolution, self.resolution)
        # Freed at exit at the latest, while OpenGL still works (a renderer left to the garbage collector
        # at interpreter shutdown prints EGL errors).
        self._close_renderer = weakref.finalize(self, self._renderer.close)
        self._goal = np.zeros(4, np.float32)
        self.set_state(np.zeros(4, np.float32))

    # -- Gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        self._mujoco.mj_resetData(self.model, self.data)  # time, warm starts: as a new env's
        state = options.get("state")
        self.set_state(sample_state(self.np_random) if state is None else state)
        goal = options.get("goal")
        self._goal = sample_state(self.np_random) if goal is None else checked_state(goal)
        return self.render(), self._info()

    def step(self, action):
        a = np.asarray(action, np.float64).reshape(-1)
        if a.shape != (2,) or not np.all(np.isfinite(a)):
            raise JepaworldError(f"Reacher action must be 2 finite torques in [-1, 1], got {action!r}")
        self.data.ctrl[:] = np.clip(a, -1.0, 1.0)
        self._mujoco.mj_step(self.model, self.data)
        self._mujoco.mj_forward(self.model, self.data)  # positions of bodies at the new joint angles, for the frame
        return self.render(), 0.0, False, False, self._info()

    def render(self) -> np.ndarray:
        self._renderer.update_scene(self.data, camera=CAMERA)
        return self._renderer.render().copy()

    def close(self) -> None:
        self._close_renderer()

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        q, v = self.data.qpos, self.data.qvel
        return np.array([wrap_angle(q[0]), q[1], v[0], v[1]], np.float32)

    def set_state(self, state) -> None:
        s = checked_state(state)
        self.data.qpos[:] = s[:2]
        self.data.qvel[:] = s[2:]
        self.data.ctrl[:] = 0.0
        self.data.act[:] = 0.0
        self._mujoco.mj_forward(self.model, self.data)

    def render_state(self, state) -> np.ndarray:
        """The frame ``uint8 (res, res, 3)`` of any ``state``; the simulation is left as it was."""
        with kept_physics(self.data, lambda: self._mujoco.mj_forward(self.model, self.data)):
            self.set_state(state)
            return self.render()
