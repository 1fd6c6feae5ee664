"""Two-Room: a point agent in a square room split by a wall with one door (pure numpy).

Geometry on a 224-px canvas (that of the reference environment): border 14, a vertical wall of thickness 10
centred at x = 112 with one door centred at y = 49 (half-size 14), agent radius 7, speed 5 px per
step. Frames render at any square resolution by scaling that geometry; the agent is a red
Gaussian blob. State = agent centre ``(x, y)`` in canvas pixels, float32.

Dynamics: the collision rule of the reference environment (stable-worldmodel's Two-Room, the one
the published numbers use). Each step the destination is ``centre + action * 5``:

1. clamp the destination to the border: x and y in [14 + 7, 224 - 14 - 7] = [21, 203];
2. judge the side by where the agent *started* the step (x < 112: left). Coming from the left, a
   destination x beyond 112 - 5 - 7 = 100 (the centre within a radius of the wall's face), with
   the destination y *outside* the door band [49 - 14 - 1.75, 49 + 14 + 1.75] = [33.25, 64.75], is
   set back to x = 99.5; coming from the right, x below 112 + 5 + 7 = 124 is set to 124.5. Inside
   the band the move is free.

Only the destination is checked, never the path: a step may cut a corner of the wall. The door
band lets the centre go 1.75 px past the door's edges, so the disk may overlap a door jamb by up to
its radius + 1.75 px (the whole disk never has to fit in the door). The states the dynamics can
produce, and so the valid ones (:func:`is_free`): centre inside the border, and x strictly between
100 and 124 only with y in the door band.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

from jepaworld.envs.goal import GoalTask
from jepaworld.envs.state import Quantity, StateLayout, Teleport
from jepaworld.errors import JepaworldError

DYNAMICS = "reference-door-band"  # recorded in collected files; older Two-Room data is refused
CANVAS = 224
BORDER = 14
WALL_X = 112.0
WALL_HALF = 5.0  # half thickness
DOOR_Y = 49.0
DOOR_HALF = 14.0
RADIUS = 7.0
SPEED = 5.0
SUCCESS_PX = 16.0

# Where the agent centre may be: inside the border, and out of the wall band except in the door.
LO = BORDER + RADIUS  # 21
HI = CANVAS - BORDER - RADIUS  # 203
BAND_LO = WALL_X - WALL_HALF - RADIUS  # 100: centre x strictly between BAND_LO and BAND_HI
BAND_HI = WALL_X + WALL_HALF + RADIUS  # 124   is only reachable with y inside the door band
DOOR_MARGIN = 1.75  # the reference's slack around the door (0.5 px at its 64-px scale)
DOOR_BAND_LO = DOOR_Y - DOOR_HALF - DOOR_MARGIN  # 33.25: a destination y in the band passes freely
DOOR_BAND_HI = DOOR_Y + DOOR_HALF + DOOR_MARGIN  # 64.75
PUSHBACK = 0.5  # a blocked move stops this far outside the wall band
STOP_LEFT = BAND_LO - PUSHBACK  # 99.5: where a blocked move from the left ends
STOP_RIGHT = BAND_HI + PUSHBACK  # 124.5: where a blocked move from the right ends

FLOOR = (235, 235, 235)
WALL = (60, 60, 60)
AGENT = np.array([220, 30, 30], np.float32)


def same_room(start: np.ndarray, goal: np.ndarray) -> bool:
    """True when both states ``(2,)`` lie on the same side of the wall."""
    return bool((start[0] < WALL_X) == (goal[0] < WALL_X))


def cross_wall(start: np.ndarray, goal: np.ndarray) -> bool:
    """True when reaching ``goal`` from ``start`` needs the door."""
    return not same_room(start, goal)


FAR_Y = 130.0  # "far corner": both ends this far below the door's centre line (y grows downward)


def far_corner(start: np.ndarray, goal: np.ndarray) -> bool:
    """The goal is in the other room and both start and goal lie in the rooms' halves far from the door
    (y >= 130, the door is at y = 49): the straight line hits the wall, the way round is >= 2 x 81 px
    of climbing to the door and back."""
    return cross_wall(start, goal) and bool(start[1] >= FAR_Y and goal[1] >= FAR_Y)


def goal_distance(state: np.ndarray, goal: np.ndarray) -> float:
    """Canvas pixels between the agent and the goal position (what :func:`is_success` thresholds)."""
    return float(np.hypot(state[0] - goal[0], state[1] - goal[1]))


def is_success(state: np.ndarray, goal: np.ndarray) -> bool:
    """Agent within 16 px (canvas) of the goal position."""
    return bool(np.hypot(state[0] - goal[0], state[1] - goal[1]) <= SUCCESS_PX)


def in_door_band(y: float) -> bool:
    """Whether a centre at height ``y`` may be inside the wall band (door band, edges included)."""
    return DOOR_BAND_LO <= y <= DOOR_BAND_HI


def is_free(x: float, y: float) -> bool:
    """Whether ``(x, y)`` is a state the dynamics can produce: inside the border, and inside the
    wall band (``BAND_LO < x < BAND_HI``) only with ``y`` in the door band."""
    inside = LO <= x <= HI and LO <= y <= HI
    return inside and (x <= BAND_LO or x >= BAND_HI or in_door_band(y))


def sample_free(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random agent position ``(2,)`` float32 inside one of the rooms (never in the
    wall band, so never in the doorway)."""
    x = rng.uniform(LO, BAND_LO + (HI - BAND_HI))
    x = x if x <= BAND_LO else x + (BAND_HI - BAND_LO)
    return np.array([x, rng.uniform(LO, HI)], np.float32)


def move(x: float, y: float, dx: float, dy: float) -> tuple[float, float]:
    """One step of the reference dynamics from ``(x, y)`` by ``(dx, dy)`` (see the module docstring):
    clamp the destination to the border, then push it out of the wall band unless its y is in the
    door band. Only the destination is checked, not the path."""
    nx = min(max(x + dx, LO), HI)
    ny = min(max(y + dy, LO), HI)
    if not in_door_band(ny):
        if x < WALL_X:
            if nx > BAND_LO:
                nx = STOP_LEFT
        elif nx < BAND_HI:
            nx = STOP_RIGHT
    return nx, ny


def teleport_agent(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The agent at a uniformly random free position, either room (evaluation's ``teleport``)."""
    return sample_free(rng)


LAYOUT = StateLayout(
    quantities=(Quantity("agent position", (0, 1), ("agent x", "agent y")),),
    entities={"agent": ([0, 1], ["x", "y"])},
    teleport=Teleport("agent", (0, 1), (0, 1)),
    perturb=(teleport_agent, "the agent is teleported to a uniformly random free position"),
)


class TwoRoomEnv(GoalTask, gym.Env):
    """Gymnasium env; observations are rendered frames ``uint8 (res, res, 3)``.

    ``reset(options={"state": (2,), "goal": (2,)})`` places the agent and the goal (both random
    otherwise). ``info`` carries ``state`` (2,) float32, ``goal`` and ``success``. Episodes never
    terminate on their own: callers (collection, evaluation) apply their own step budgets.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    success_test, distance = staticmethod(is_success), staticmethod(goal_distance)

    def __init__(self, resolution: int = 64, render_mode: str | None = "rgb_array"):
        if resolution < 8:
            raise JepaworldError(f"resolution must be >= 8 pixels, got {resolution}")
        self.resolution = int(resolution)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 255, (resolution, resolution, 3), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._scale = resolution / CANVAS
        self._background = self._draw_background()
        # Gaussian blob: sigma = radius / 2 (canvas px), at least half an output pixel.
        self._sigma = max(RADIUS / 2 * self._scale, 0.5)
        self._reach = int(math.ceil(3 * self._sigma))
        self._state = np.array([LO, LO], np.float32)
        self._goal = np.array([HI, HI], np.float32)

    # -- geometry ---------------------------------------------------------------------------
    def _draw_background(self) -> np.ndarray:
        res, s = self.resolution, self._scale
        centres = (np.arange(res) + 0.5) / s  # pixel centres in canvas units
        solid = (centres < BORDER) | (centres > CANVAS - BORDER)
        wall_x = np.abs(centres - WALL_X) <= WALL_HALF
        door_y = np.abs(centres - DOOR_Y) <= DOOR_HALF
        wall = solid[None, :] | solid[:, None] | (wall_x[None, :] & ~door_y[:, None])  # [y, x]
        img = np.empty((res, res, 3), np.uint8)
        img[...] = FLOOR
        img[wall] = WALL
        return img

    # -- Gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        if options.get("state") is not None:
            self.set_state(options["state"])
        else:
            self._state = sample_free(self.np_random)
        goal = options.get("goal")
        self._goal = sample_free(self.np_random) if goal is None else self._checked(goal)
        return self.render(), self._info()

    def step(self, action):
        a = np.clip(np.asarray(action, np.float32).reshape(2), -1.0, 1.0)
        if not np.all(np.isfinite(a)):
            raise JepaworldError(f"action must be finite, got {action!r}")
        x, y = move(float(self._state[0]), float(self._state[1]), float(a[0]) * SPEED, float(a[1]) * SPEED)
        self._state = np.array([x, y], np.float32)
        return self.render(), 0.0, False, False, self._info()

    def render(self) -> np.ndarray:
        return self.render_state(self._state)

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        return self._state.copy()

    def set_state(self, state) -> None:
        self._state = self._checked(state)

    def render_state(self, state) -> np.ndarray:
        """The frame ``uint8 (res, res, 3)`` with the agent at ``state`` (2,) — a goal image."""
        img = self._background.copy()
        cx, cy = float(state[0]) * self._scale, float(state[1]) * self._scale  # output pixels
        r, res = self._reach, self.resolution
        x0, x1 = max(int(cx) - r, 0), min(int(cx) + r + 1, res)
        y0, y1 = max(int(cy) - r, 0), min(int(cy) + r + 1, res)
        inv = -0.5 / self._sigma**2
        gx = np.exp(inv * (np.arange(x0, x1, dtype=np.float32) + 0.5 - cx) ** 2)
        gy = np.exp(inv * (np.arange(y0, y1, dtype=np.float32) + 0.5 - cy) ** 2)
        alpha = (gy[:, None] * gx[None, :])[..., None]
        patch = img[y0:y1, x0:x1].astype(np.float32)
        img[y0:y1, x0:x1] = (patch + alpha * (AGENT - patch) + 0.5).astype(np.uint8)
        return img

    def _checked(self, state) -> np.ndarray:
        s = np.asarray(state, np.float32).reshape(-1)
        if s.shape != (2,) or not np.all(np.isfinite(s)):
            raise JepaworldError(f"Two-Room state must be 2 finite numbers (x, y), got {state!r}")
        if not is_free(float(s[0]), float(s[1])):
            raise JepaworldError(
                f"Two-Room state {s.tolist()} overlaps a wall; valid x in [{LO}, {BAND_LO}] or "
                f"[{BAND_HI}, {HI}] (x in between only for y in the door band "
                f"[{DOOR_BAND_LO}, {DOOR_BAND_HI}]), y in [{LO}, {HI}]"
            )
        return s
