"""Closed-loop control from a stream of frames: one action block per call.

    ctrl = wm.controller(goal_obs)          # jepaworld.load(...).controller
    obs, _ = env.reset()
    for _ in range(10):
        for action in ctrl.act(obs):        # (frameskip, A) raw actions
            obs, *_ = env.step(action)

The same loop the evaluation runs: the model sees a frame every ``frameskip`` env steps (as in
training), re-plans every ``receding`` blocks, and warm-starts each plan from the previous one.
"""

from __future__ import annotations

import numpy as np

from jepaworld.plan.mpc import LatentMPC


class Controller:
    """Latent MPC toward fixed goal images for one environment or a batch of B.

    mpc: a ``LatentMPC``; goal_obs: uint8 (B, H, W, 3); single: return (frameskip, A) instead of
    (B, frameskip, A) (one environment).
    """

    def __init__(self, mpc: LatentMPC, goal_obs: np.ndarray, single: bool) -> None:
        self.mpc, self.goal_obs, self.single = mpc, goal_obs, single
        self.every = max(1, min(mpc.cfg.receding, mpc.cfg.horizon))  # blocks per plan
        self._plan: np.ndarray | None = None  # (B, horizon * frameskip, A) raw actions
        self._used = 0  # blocks of the current plan handed out
        self._last: np.ndarray | None = None  # (B, frameskip, A) the block handed out last

    @property
    def plans(self) -> int:
        """How many plans have been made so far."""
        return len(self.mpc.plan_times)

    def act(self, obs: np.ndarray) -> np.ndarray:
        """The frame now (uint8 (H, W, 3), or (B, H, W, 3)) -> the next block of raw actions.

        Call it once per block, with the frame seen after executing every action of the block it
        returned last: (frameskip, A), or (B, frameskip, A) for a batch.
        """
        obs = np.asarray(obs)
        if self.single:
            obs = obs[None]
        if obs.shape != self.goal_obs.shape:
            raise ValueError(
                f"obs {tuple(obs.shape[1:] if self.single else obs.shape)} must match the goal images "
                f"{tuple(self.goal_obs.shape[1:] if self.single else self.goal_obs.shape)} given to the controller"
            )
        if self._last is None:
            self.mpc.reset(obs, self.goal_obs)
        else:
            self.mpc.observe(obs, self._last)
        if self._plan is None or self._used >= self.every:
            self._plan = self.mpc.plan(self._used)
            self._used = 0
        fs = self.mpc.frameskip
        self._last = self._plan[:, self._used * fs : (self._used + 1) * fs]
        self._used += 1
        return self._last[0] if self.single else self._last
