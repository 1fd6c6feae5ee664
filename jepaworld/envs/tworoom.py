"""Two-Room: a point agent in a square room split by a wall with one door (pure numpy).

Geometry on a 224-px canvas (SPEC, "Environment facts"): border 14, a vertical wall of thickness 10
centred at x = 112 with one door centred at y = 49 (half-size 14), agent radius 7, speed 5 px per
step. Frames render at any square resolution by scaling that geometry; the agent is a red
Gaussian blob. State = agent centre ``(x, y)`` in canvas pixels, float32.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np

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
BAND_HI = WALL_X + WALL_HALF + RADIUS  # 124   is only allowed with y inside the door
DOOR_LO = DOOR_Y - DOOR_HALF + RADIUS  # 42
DOOR_HI = DOOR_Y + DOOR_HALF - RADIUS  # 56

FLOOR = (235, 235, 235)
WALL = (60, 60, 60)
AGENT = np.array([220, 30, 30], np.float32)


def same_room(start: np.ndarray, goal: np.ndarray) -> bool:
    """True when both states ``(2,)`` lie on the same side of the wall."""
    return bool((start[0] < WALL_X) == (goal[0] < WALL_X))


def cross_wall(start: np.ndarray, goal: np.ndarray) -> bool:
    """True when reaching ``goal`` from ``start`` needs the door."""
    return not same_room(start, goal)


def is_success(state: np.ndarray, goal: np.ndarray) -> bool:
    """Agent within 16 px (canvas) of the goal position."""
    return bool(np.hypot(state[0] - goal[0], state[1] - goal[1]) <= SUCCESS_PX)


def is_free(x: float, y: float) -> bool:
    """Whether an agent centred at ``(x, y)`` overlaps no wall (axis-aligned, radius margin)."""
    inside = LO <= x <= HI and LO <= y <= HI
    return inside and (x <= BAND_LO or x >= BAND_HI or DOOR_LO <= y <= DOOR_HI)


def sample_free(rng: np.random.Generator) -> np.ndarray:
    """A uniformly random valid agent position ``(2,)`` float32 (either room, not in the door)."""
    x = rng.uniform(LO, BAND_LO + (HI - BAND_HI))
    x = x if x <= BAND_LO else x + (BAND_HI - BAND_LO)
    return np.array([x, rng.uniform(LO, HI)], np.float32)


def move(x: float, y: float, dx: float, dy: float) -> tuple[float, float]:
    """Move by ``(dx, dy)`` in sub-steps of at most 1 px, sliding along walls (x then y)."""
    n = max(1, math.ceil(max(abs(dx), abs(dy))))
    sx, sy = dx / n, dy / n
    for _ in range(n):
        nx = min(max(x + sx, LO), HI)
        if BAND_LO < nx < BAND_HI and not DOOR_LO <= y <= DOOR_HI:
            nx = BAND_LO if x <= BAND_LO else BAND_HI
        ny = min(max(y + sy, LO), HI)
        if BAND_LO < nx < BAND_HI:
            ny = min(max(ny, DOOR_LO), DOOR_HI)
        x, y = nx, ny
    return x, y


class TwoRoomEnv(gym.Env):
    """Gymnasium env; observations are rendered frames ``uint8 (res, res, 3)``.

    ``reset(options={"state": (2,), "goal": (2,)})`` places the agent and the goal (both random
    otherwise). ``info`` carries ``state`` (2,) float32, ``goal`` and ``success``. Episodes never
    terminate on their own: callers (collection, evaluation) apply their own step budgets.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, resolution: int = 64, render_mode: str | None = "rgb_array"):
        if resolution < 8:
            raise ValueError(f"resolution must be >= 8 pixels, got {resolution}")
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
            raise ValueError(f"action must be finite, got {action!r}")
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

    @property
    def goal(self) -> np.ndarray:
        return self._goal.copy()

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
            raise ValueError(f"Two-Room state must be 2 finite numbers (x, y), got {state!r}")
        if not is_free(float(s[0]), float(s[1])):
            raise ValueError(
                f"Two-Room state {s.tolist()} overlaps a wall; valid x in [{LO}, {BAND_LO}] or "
                f"[{BAND_HI}, {HI}] (x in between only for y in [{DOOR_LO}, {DOOR_HI}]), y in [{LO}, {HI}]"
            )
        return s

    def _info(self) -> dict[str, Any]:
        return {
            "state": self._state.copy(),
            "goal": self._goal.copy(),
            "success": is_success(self._state, self._goal),
        }
