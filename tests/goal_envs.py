"""Two tiny user environments for the goal-capability tests (registered on import).

``Dot-v0`` adds the goal-reaching methods (``jepaworld.envs.goal``); ``PlainDot-v0`` is the same
dynamics without them.
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np

SIZE, SPEED, RADIUS = 32, 2.0, 3.0


class PlainDot(gym.Env):
    """A point on an open 32 x 32 canvas; action (dx, dy) in [-1, 1]^2, 2 px per step."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode: str | None = "rgb_array") -> None:
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0.0, SIZE, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.pos = np.full(2, SIZE / 2, np.float32)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(RADIUS, SIZE - RADIUS, 2).astype(np.float32)
        return self.pos.copy(), {}

    def step(self, action):
        a = np.clip(np.asarray(action, np.float32), -1, 1)
        self.pos = np.clip(self.pos + SPEED * a, RADIUS, SIZE - RADIUS).astype(np.float32)
        return self.pos.copy(), 0.0, False, False, {}

    def _draw(self, pos: np.ndarray) -> np.ndarray:
        yy, xx = np.mgrid[0:SIZE, 0:SIZE] + 0.5
        disk = (xx - pos[0]) ** 2 + (yy - pos[1]) ** 2 <= RADIUS**2
        img = np.full((SIZE, SIZE, 3), 240, np.uint8)
        img[disk] = (200, 30, 30)
        return img

    def render(self):
        return self._draw(self.pos)


class Dot(PlainDot):
    """``PlainDot`` with the goal-reaching capability."""

    def get_state(self) -> np.ndarray:
        return self.pos.copy()

    def set_state(self, state) -> None:
        self.pos = np.asarray(state, np.float32).reshape(2).copy()

    def render_state(self, state) -> np.ndarray:
        return self._draw(np.asarray(state, np.float32))

    def is_success(self, state, goal) -> bool:
        return bool(np.linalg.norm(np.asarray(state) - np.asarray(goal)) < 3.0)


for _id, _cls in (("Dot-v0", Dot), ("PlainDot-v0", PlainDot)):
    if _id not in gym.registry:
        gym.register(id=_id, entry_point=f"{__name__}:{_cls.__name__}")
