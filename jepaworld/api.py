"""The Python API: ``jepaworld.load(path)`` -> a ready world model that can plan.

    wm = jepaworld.load("runs/tworoom-cpu")
    wm.meta                                 # RunMeta: env, resolution, frameskip, history, normaliser, ...
    actions = wm.plan(obs, goal_obs)        # raw actions (horizon*frameskip, A) toward the goal
    mpc = wm.controller(goal_obs)           # closed loop: mpc.act(obs) -> the next (frameskip, A) block
    s = wm.surprise(frames, actions)        # per-step prediction error ||z_hat - z||^2 (jepaworld.science)
    ens = jepaworld.load_ensemble([run_a, run_b])   # plans on the members' mean cost (model/ensemble.py)

Nothing here imports ``jepaworld.train``: a run is read through its contract in ``jepaworld.run``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import cast

import numpy as np

from jepaworld.config import Config, PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.model import WorldModel
from jepaworld.model.ensemble import WorldModelEnsemble
from jepaworld.plan.mpc import LatentModel, LatentMPC
from jepaworld.run import RunMeta, load_checkpoint, pick_device

log = logging.getLogger(__name__)


class RunPlanning:
    """Planning from a loaded run, shared by ``LoadedWorldModel`` and ``LoadedEnsemble``: the run's config,
    ``RunMeta`` and action box around a ``LatentModel`` (the class this is mixed into)."""

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

    def mpc(self, plan: PlanConfig | None = None, seed: int = 0) -> LatentMPC:
        """A ``LatentMPC`` for this model with the env's action box, as the run records it (``RunMeta.action_bounds``;
        ``plan``: the run's config if None; an ensemble's penalty is the one it was built with)."""
        low, high = self.meta.action_bounds()
        return LatentMPC(cast(LatentModel, self), self.meta, plan or self.config.plan, low, high, seed=seed)


class LoadedWorldModel(RunPlanning, WorldModel):
    """A ``WorldModel`` with its run's config and ``RunMeta``, in eval mode."""

    def surprise(self, frames: np.ndarray, actions: np.ndarray) -> np.ndarray:
        """Per-step surprise ||z_hat_t - z_t||^2 of frames (T, H, W, 3) or (B, T, H, W, 3) (uint8) given the raw
        env actions executed between them, ((T-1)*frameskip, A) or (B, (T-1)*frameskip, A).

        Returns (T-1,) or (B, T-1): entry t-1 is frame t's (``jepaworld.model.surprise``; step by step:
        ``SurpriseMeter(wm).update(obs, executed_block)``).
        """
        from jepaworld.model.surprise import surprise_signal

        return surprise_signal(self, frames, actions)


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


class LoadedEnsemble(RunPlanning, WorldModelEnsemble):
    """A ``WorldModelEnsemble`` of loaded runs, planned with as one model (``LatentMPC``, ``jepaworld eval``).

    ``meta``, ``config`` and ``checkpoint_path`` are member 0's (the members share the env, the action
    blocks and the normaliser; the held-out episodes are member 0's); ``member_paths`` names every member's
    checkpoint.
    """

    member_paths: list[Path]

    def describe(self) -> dict[str, object]:
        """What ``results.json`` records of the ensemble: member checkpoints and the penalty k."""
        return {"members": [str(p) for p in self.member_paths], "penalty": self.penalty}


def ensemble_of(models: Sequence[LoadedWorldModel], penalty: float = 0.0) -> LoadedEnsemble:
    """An ensemble of loaded runs (``load``), on one device; ``penalty`` k: cost = mean + k * std across them.

    Raises ``JepaworldError`` unless every member has member 0's env, resolution, action dims, frameskip,
    history and action normaliser (trainings of one env and preset on one episode file).
    """
    if not models:
        raise JepaworldError("an ensemble needs at least one run")
    lead = models[0].meta
    for m in models[1:]:
        meta = m.meta
        for name, a, b in (("env", lead.env, meta.env), ("resolution", lead.resolution, meta.resolution),
                           ("action_dim", lead.action_dim, meta.action_dim),
                           ("frameskip", lead.frameskip, meta.frameskip), ("history", lead.history, meta.history)):
            if a != b:
                raise JepaworldError(
                    f"ensemble member {m.checkpoint_path} has {name}={b} but {models[0].checkpoint_path} has "
                    f"{name}={a}: ensemble only trainings of the same env and preset"
                )  # fmt: skip
        ln, mn = lead.normalizer, meta.normalizer
        if not (np.allclose(ln.action_mean, mn.action_mean) and np.allclose(ln.action_std, mn.action_std)):
            raise JepaworldError(
                f"ensemble member {m.checkpoint_path} z-scores actions with other statistics than "
                f"{models[0].checkpoint_path} (mean {mn.action_mean} vs {ln.action_mean}, std {mn.action_std} vs "
                f"{ln.action_std}): its plans would mean other actions; train the members on the same episode file"
            )  # fmt: skip
        if sorted(meta.held_out) != sorted(lead.held_out):
            log.warning("ensemble member %s holds out other episodes than %s: evaluation draws from the latter's",
                        m.checkpoint_path, models[0].checkpoint_path)  # fmt: skip
    devices = {next(m.parameters()).device for m in models}
    if len(devices) > 1:
        raise JepaworldError(f"ensemble members are on several devices ({sorted(map(str, devices))}); load them "
                             "with the same device=")  # fmt: skip
    ens = LoadedEnsemble(models, penalty=penalty)
    ens.config, ens.meta, ens.checkpoint_path = models[0].config, lead, models[0].checkpoint_path
    ens.member_paths = [m.checkpoint_path for m in models]
    return ens.eval()


def load_ensemble(paths: Sequence[str | Path], device: str = "auto", penalty: float | None = None) -> LoadedEnsemble:
    """Load several runs (trainings of one env and preset) as one ``LoadedEnsemble`` for planning.

    penalty: k in cost = mean + k * std across members (None: the first run's ``plan.ensemble_penalty``).
    """
    models = [load(p, device=device) for p in paths]
    if not models:
        raise JepaworldError("load_ensemble needs at least one run folder")
    return ensemble_of(models, models[0].config.plan.ensemble_penalty if penalty is None else penalty)
