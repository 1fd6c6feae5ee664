"""The Python API: ``jepaworld.load(path)`` -> a ready world model that can plan.

    wm = jepaworld.load("runs/tworoom-cpu")
    actions = wm.plan(obs, goal_obs)        # raw actions (horizon*frameskip, A) toward the goal
    ctrl = wm.controller(goal_obs)          # closed loop: ctrl.act(obs) -> the next (frameskip, A) block
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.config import Config, PlanConfig
from jepaworld.data import Normalizer
from jepaworld.model import WorldModel
from jepaworld.plan.controller import Controller
from jepaworld.plan.mpc import LatentMPC
from jepaworld.train.checkpoint import load_checkpoint
from jepaworld.train.distributed import resolve_device


class LoadedWorldModel(WorldModel):
    """A ``WorldModel`` with its config, normaliser and data facts, in eval mode."""

    config: Config
    meta: dict[str, Any]
    normalizer: Normalizer
    checkpoint_path: Path

    def plan(self, obs: np.ndarray, goal_obs: np.ndarray, plan: PlanConfig | None = None, seed: int = 0) -> np.ndarray:
        """Plan from one frame (or a batch) toward a goal image.

        obs, goal_obs: uint8 (H, W, 3) or (B, H, W, 3) at the checkpoint's resolution.
        Returns raw actions (horizon*frameskip, A), or (B, horizon*frameskip, A) for a batch.
        """
        obs, goal_obs = np.asarray(obs), np.asarray(goal_obs)
        single = obs.ndim == 3
        if single:
            obs, goal_obs = obs[None], goal_obs[None]
        self.check_frames(obs, "obs")
        self.check_frames(goal_obs, "goal_obs")
        mpc = self._mpc(plan, seed)
        mpc.reset(obs, goal_obs)
        actions = mpc.plan()
        return actions[0] if single else actions

    def controller(self, goal_obs: np.ndarray, plan: PlanConfig | None = None, seed: int = 0) -> Controller:
        """Closed-loop latent MPC toward ``goal_obs`` (uint8 (H, W, 3) or (B, H, W, 3)).

        ``controller(goal).act(obs)`` returns the next block of raw actions, re-planning every
        ``plan.receding`` blocks with warm starts, exactly as ``jepaworld eval`` does.
        """
        goal_obs = np.asarray(goal_obs)
        single = goal_obs.ndim == 3
        if single:
            goal_obs = goal_obs[None]
        self.check_frames(goal_obs, "goal_obs")
        return Controller(self._mpc(plan, seed), goal_obs, single)

    def _mpc(self, plan: PlanConfig | None, seed: int) -> LatentMPC:
        from jepaworld.envs import get_spec

        spec = get_spec(self.meta["env"])
        return LatentMPC(self, self.normalizer, plan or self.config.plan, frameskip=self.meta["frameskip"],
                         history=self.meta["history"], action_low=spec.action_low, action_high=spec.action_high,
                         seed=seed)  # fmt: skip

    def check_frames(self, frames: np.ndarray, name: str) -> None:
        res = int(self.meta["resolution"])
        if frames.ndim != 4 or frames.shape[1:] != (res, res, 3) or frames.dtype != np.uint8:
            raise ValueError(
                f"{name}: expected uint8 frames of shape (H, W, 3) = ({res}, {res}, 3) (or a batch of them) as "
                f"this checkpoint was trained on, got {frames.dtype} {tuple(frames.shape)}; render the env at "
                f"resolution {res}"
            )


def load(path: str | Path, device: str = "auto") -> LoadedWorldModel:
    """Load a run folder (or one checkpoint folder) for inference, in eval mode."""
    ck = load_checkpoint(path)
    meta = ck.meta
    model = LoadedWorldModel(ck.config.model, action_dim=meta["action_dim"], frameskip=meta["frameskip"],
                             history=meta["history"])  # fmt: skip
    model.load_state_dict(ck.weights)
    model.config = ck.config
    model.meta = meta
    model.normalizer = Normalizer.from_dict(meta["normalizer"])
    model.checkpoint_path = ck.path
    return model.to(resolve_device(device)).eval()
