"""Wrap any Gymnasium environment that renders RGB frames so its observations are square frames.

The observation is ``render()`` resized to ``(res, res, 3)`` uint8. The low-dimensional *state*
(``info["state"]``, ``get_state()``) is the wrapped env's ``get_state()`` where it has one, else its
own observation, flattened. Discrete action spaces are exposed as ``Box(0, 1, (n,))`` scores and
stepped with their argmax. The goal-reaching capability (``jepaworld.envs.goal``) is forwarded to
the wrapped env's methods where it has them.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from jepaworld.envs.goal import require_goal_env
from jepaworld.errors import JepaworldError


def area_weights(n_in: int, n_out: int) -> np.ndarray:
    """Matrix ``(n_out, n_in)`` averaging input cells over each output cell (box filter)."""
    edges = np.linspace(0.0, n_in, n_out + 1)
    lo, hi = edges[:-1, None], edges[1:, None]
    cells = np.arange(n_in)[None, :]
    overlap = np.clip(np.minimum(hi, cells + 1) - np.maximum(lo, cells), 0.0, None)
    return (overlap / overlap.sum(axis=1, keepdims=True)).astype(np.float32)


def flat_dim(space: gym.Space) -> int:
    if isinstance(space, gym.spaces.Discrete):
        return int(space.n)
    if isinstance(space, gym.spaces.Box):
        return int(np.prod(space.shape))
    raise JepaworldError(f"unsupported space {space}: expected Box or Discrete")


class PixelEnv(gym.Env):
    """``PixelEnv(inner, resolution)``: observations ``uint8 (res, res, 3)``; ``info["state"]`` float32."""

    metadata = {"render_modes": ["rgb_array"]}

    def __init__(self, inner: gym.Env, resolution: int = 64):
        if inner.render_mode != "rgb_array":
            raise JepaworldError(f"{inner.spec.id if inner.spec else inner}: needs render_mode='rgb_array'")
        self.inner = inner
        self.resolution = int(resolution)
        self.render_mode = "rgb_array"
        self.observation_space = gym.spaces.Box(0, 255, (resolution, resolution, 3), np.uint8)
        space = inner.action_space
        self._discrete = isinstance(space, gym.spaces.Discrete)
        if isinstance(space, gym.spaces.Discrete):
            self.action_space = gym.spaces.Box(0.0, 1.0, (int(space.n),), np.float32)
        elif isinstance(space, gym.spaces.Box):
            self.action_space = space
        else:
            raise JepaworldError(f"unsupported action space {space}: expected Box or Discrete")
        self._obs_dim = flat_dim(inner.observation_space)
        self._weights: tuple[np.ndarray, np.ndarray] | None = None
        self._state = np.zeros(0, np.float32)

    def _frame(self) -> np.ndarray:
        return self._resize(np.asarray(self.inner.render()))

    def _resize(self, frame: np.ndarray) -> np.ndarray:
        """An RGB(A) frame (h, w, 3+) of any size -> uint8 (res, res, 3), box-filtered."""
        if frame.ndim != 3 or frame.shape[2] < 3:
            raise JepaworldError(f"render() must return an RGB frame (H, W, 3), got shape {frame.shape}")
        frame = frame[..., :3]
        h, w = frame.shape[:2]
        res = self.resolution
        if (h, w) == (res, res):
            return frame.astype(np.uint8, copy=False)
        if self._weights is None or self._weights[0].shape[1] != h or self._weights[1].shape[1] != w:
            self._weights = (area_weights(h, res), area_weights(w, res))
        wy, wx = self._weights
        rows = (wy @ frame.astype(np.float32).reshape(h, w * 3)).reshape(res, w, 3)
        out = np.einsum("xw,ywc->yxc", wx, rows)
        return np.clip(out + 0.5, 0, 255).astype(np.uint8)

    @property
    def goal_provider(self) -> Any:
        """The wrapped env: the goal-reaching methods are its own (see ``jepaworld.envs.goal``)."""
        return self.inner.unwrapped

    def _to_state(self, obs) -> np.ndarray:
        own = getattr(self.inner.unwrapped, "get_state", None)
        if callable(own):
            return np.asarray(own(), np.float32).reshape(-1)
        if self._discrete_obs():
            s = np.zeros(self._obs_dim, np.float32)
            s[int(obs)] = 1.0
            return s
        return np.asarray(obs, np.float32).reshape(-1)

    def _discrete_obs(self) -> bool:
        return isinstance(self.inner.observation_space, gym.spaces.Discrete)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        obs, info = self.inner.reset(seed=seed, options=options)
        self._state = self._to_state(obs)
        return self._frame(), {**info, "state": self._state.copy()}

    def step(self, action):
        a = int(np.argmax(action)) if self._discrete else action
        obs, reward, terminated, truncated, info = self.inner.step(a)
        self._state = self._to_state(obs)
        return self._frame(), reward, terminated, truncated, {**info, "state": self._state.copy()}

    def render(self) -> np.ndarray:
        return self._frame()

    def get_state(self) -> np.ndarray:
        return self._state.copy()

    def _name(self) -> str:
        return self.inner.spec.id if self.inner.spec else type(self.inner.unwrapped).__name__

    def set_state(self, state) -> None:
        require_goal_env(self, self._name(), "setting a state")
        self.goal_provider.set_state(state)
        self._state = self._to_state(None)

    def render_state(self, state) -> np.ndarray:
        """The image of ``state`` at this wrapper's resolution: uint8 (res, res, 3)."""
        require_goal_env(self, self._name(), "rendering a goal image")
        return self._resize(np.asarray(self.goal_provider.render_state(state)))

    def is_success(self, state, goal) -> bool:
        require_goal_env(self, self._name(), "a success test")
        return bool(self.goal_provider.is_success(state, goal))

    def close(self) -> None:
        self.inner.close()
