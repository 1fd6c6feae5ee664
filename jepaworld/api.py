"""The Python API: ``jepaworld.load(path)`` -> a ready world model that can plan.

    wm = jepaworld.load("runs/tworoom-cpu")
    wm.meta                                 # RunMeta: env, resolution, frameskip, history, normaliser, ...
    actions = wm.plan(obs, goal_obs)        # raw actions (horizon*frameskip, A) toward the goal
    mpc = wm.controller(goal_obs)           # closed loop: mpc.act(obs) -> the next (frameskip, A) block
    s = wm.surprise(frames, actions)        # per-step prediction error ||z_hat - z||^2 (jepaworld.science)

Nothing here imports ``jepaworld.train``: a run is read through its contract in ``jepaworld.run``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from jepaworld.config import Config, PlanConfig
from jepaworld.model import WorldModel
from jepaworld.plan.mpc import LatentMPC
from jepaworld.run import RunMeta, load_checkpoint, pick_device


class LoadedWorldModel(WorldModel):
    """A ``WorldModel`` with its run's config and ``RunMeta``, in eval mode."""

    config: Config
    meta: RunMeta
    checkpoint_path: Path

    @property
    def normalizer(self):  # noqa: ANN201 - the run's action Normalizer
        return self.meta.normalizer

    def plan(self, obs: np.ndarray, goal_obs: np.ndarray, plan: PlanConfig | None = None, seed: int = 0) -> np.ndarray:
        """One open-loop plan from a frame (or a batch) toward a goal image.

        obs, goal_obs: uint8 (H, W, 3) or (B, H, W, 3) at the checkpoint's resolution.
        Returns raw actions (horizon*frameskip, A), or (B, horizon*frameskip, A) for a batch.
        """
        return self.mpc(plan, seed).plan_once(obs, goal_obs)

    def controller(self, goal_obs: np.ndarray, plan: PlanConfig | None = None, seed: int = 0) -> LatentMPC:
        """Closed-loop latent MPC toward ``goal_obs`` (uint8 (H, W, 3) or (B, H, W, 3)).

        ``controller(goal).act(obs)`` returns the next block of raw actions, re-planning every
        ``plan.receding`` blocks with warm starts, exactly as ``jepaworld eval`` does.
        """
        mpc = self.mpc(plan, seed)
        mpc.reset(goal_obs)
        return mpc

    def surprise(self, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Per-step surprise ||z_hat_t - z_t||^2 of frames (T, H, W, 3) or (B, T, H, W, 3) (uint8) given the raw
        env actions executed between them, ((T-1)*frameskip, A) or (B, (T-1)*frameskip, A).

        Returns (T-1,) or (B, T-1): entry t-1 is frame t's (``jepaworld.model.surprise``; step by step:
        ``SurpriseMeter(wm).update(obs, executed_block)``).
        """
        from jepaworld.model.surprise import surprise_signal

        return surprise_signal(self, frames, actions)

    def mpc(self, plan: PlanConfig | None = None, seed: int = 0) -> LatentMPC:
        """A ``LatentMPC`` for this model with the env's action box (``plan``: the run's config if None)."""
        from jepaworld.envs import get_spec

        spec = get_spec(self.meta.env)
        return LatentMPC(self, self.meta, plan or self.config.plan, spec.action_low, spec.action_high, seed=seed)


def load(path: str | Path, device: str = "auto") -> LoadedWorldModel:
    """Load a run folder (or one checkpoint folder) for inference, in eval mode."""
    ck = load_checkpoint(path)
    meta = ck.meta
    model = LoadedWorldModel(ck.config.model, action_dim=meta.action_dim, frameskip=meta.frameskip,
                             history=meta.history)  # fmt: skip
    model.load_state_dict(ck.weights)
    model.config = ck.config
    model.meta = meta
    model.checkpoint_path = ck.path
    return model.to(pick_device(device)).eval()
