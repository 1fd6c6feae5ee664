"""Two loops: a fast distilled policy that acts, and the latent planner it hands back to.

    agent = jepaworld.Agent("runs/demo/run")             # mode="guarded" (default) | "policy" | "planner"
    agent.reset(goal_frames)                              # uint8 (B, H, W, 3) (or one (H, W, 3))
    block = agent.act(frames, active)                     # -> raw actions (B, frameskip, A) (or (frameskip, A))
    agent.log                                             # one Decision per env and block of this episode

- ``planner``: ``LatentMPC`` exactly as ``jepaworld eval`` runs it (re-plans per ``plan.receding``).
- ``policy``: pi(z_t, z_goal) every block (``RUN/agent/policy.safetensors``, from ``jepaworld distill``).
- ``guarded``: the policy, until the surprise of the new frame exceeds the calibrated threshold or the
  latent distance to the goal stalls (``RUN/agent/guard.json``); then the planner plans from the
  current state, warm-started from the policy's own H-block proposal rolled out in latent space, and
  its plan is followed for ``follow_blocks`` blocks before the policy acts again. Only the rows of the
  batch that triggered are planned.

Every decision is logged: which loop acted and why, the surprise of the frame, the latent cost
``||z_t - z_goal||^2``, this env's share of the wall time and the network evaluations it needed
(encoder frames + predictor steps + policy calls; a CEM plan is samples x iterations x horizon
predictor steps per env).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.agent.guard import GuardConfig, GuardState, load_guard
from jepaworld.agent.latent import LatentHistory, latent_rollout
from jepaworld.agent.policy import PolicyNet, load_policy
from jepaworld.config import PlanConfig
from jepaworld.errors import JepaworldError

MODES = ("planner", "policy", "guarded")


@dataclass
class Decision:
    """One env's decision at one block. ``loop``: "policy" or "planner"; ``reason`` (planner only): "surprise",
    "stall" (a triggered plan), "plan" (a later block of it), "mpc" (planner mode: the closed loop)."""

    env: int  # row in the batch
    block: int  # blocks executed before it in this episode
    loop: str
    reason: str
    surprise: float  # of the frame it saw (nan on the first)
    latent_cost: float  # ||z_t - z_goal||^2
    ms: float  # this env's share of the decision's wall time
    model_calls: int  # encoder frames + predictor steps + policy calls made for this env
    planned: bool  # a plan was made for this env at this decision

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def plan_model_calls(cfg: PlanConfig) -> int:
    """Predictor steps one plan costs per env (candidates x cost calls x horizon; gd: forward passes only)."""
    if cfg.planner == "gd":
        return (cfg.gd_steps + 1) * cfg.gd_restarts * cfg.horizon
    return cfg.iterations * cfg.samples * cfg.horizon


def agent_folder(model: Any) -> Path:
    """``RUN/agent`` of a model loaded from ``RUN``."""
    ck = getattr(model, "checkpoint_path", None)
    if ck is None:
        raise JepaworldError("this model was not loaded from a run; pass agent_dir=FOLDER")
    return Path(ck).parent.parent / "agent"


class Agent:
    """The two-loop agent over B environments (see the module docstring).

    model: a run folder or a loaded world model; plan: the planner's settings (the run's if None);
    policy / guard: override what ``RUN/agent`` holds; agent_dir: another folder than ``RUN/agent``;
    memory: a memory file whose named goals ``go(name)`` pursues.
    """

    def __init__(self, model: Any, mode: str = "guarded", plan: PlanConfig | None = None, seed: int = 0,
                 device: str = "auto", policy: PolicyNet | None = None, guard: GuardConfig | None = None,
                 agent_dir: str | Path | None = None, memory: str | Path | None = None) -> None:  # fmt: skip
        if mode not in MODES:
            raise JepaworldError(f"unknown agent mode {mode!r}; expected one of {', '.join(MODES)}")
        if isinstance(model, (str, Path)):
            from jepaworld.api import load

            model = load(model, device=device)
        from jepaworld.model.surprise import SurpriseMeter

        self.model, self.meta, self.mode = model, model.meta, mode
        self.mpc = model.mpc(plan, seed)
        self.device = self.mpc.device
        folder = Path(agent_dir) if agent_dir is not None else None
        self.policy: PolicyNet | None = None
        if mode != "planner":
            self.policy = policy if policy is not None else load_policy(folder or agent_folder(model),
                                                                        device=self.device)[0]  # fmt: skip
            D, fsA = model.cfg.embed_dim, self.meta.frameskip * self.meta.action_dim
            if (self.policy.embed_dim, self.policy.block_dim) != (D, fsA):
                raise JepaworldError(
                    f"the policy maps {self.policy.embed_dim}-dim embeddings to {self.policy.block_dim}-dim blocks; "
                    f"this model has {D} and {fsA}: run `jepaworld distill RUN --fresh`"
                )
        self.guard: GuardConfig | None = None
        if mode == "guarded":
            self.guard = guard if guard is not None else load_guard(folder or agent_folder(model))
        self.meter = SurpriseMeter(model)
        self.plan_calls = plan_model_calls(self.mpc.cfg)
        self.log: list[Decision] = []
        self.memory = memory  # a memory file (``jepaworld memory build``) whose named goals ``go`` takes

    @property
    def frameskip(self) -> int:
        """Env steps per block (the controller protocol's, ``jepaworld.control.Controller``)."""
        return self.meta.frameskip

    @property
    def plan_times(self) -> list[float]:
        """Seconds of every plan its planner made (all episodes)."""
        return self.mpc.plan_times

    def go(self, name: str) -> np.ndarray:
        """Start an episode toward the goal remembered as ``name`` (``jepaworld memory add-goal``) in the
        memory file given as ``memory=``; returns its image (H, W, 3). For far goals routed through the
        memory, use ``jepaworld.memory.Navigator(...).go(name)``."""
        if self.memory is None:
            raise JepaworldError("Agent(..., memory=FILE) is needed to go to a named goal")
        from jepaworld.memory import open_for

        with open_for(self.model, self.memory) as store:
            image = store.goal(name).image
        self.reset(image)
        return image

    # ---------------------------------------------------------------------------------- episode
    def reset(self, goal_obs: np.ndarray) -> None:
        """New episode(s) toward goal images uint8 (H, W, 3) or (B, H, W, 3); clears the log."""
        self.mpc.reset(goal_obs)  # checks the frames; planner mode drives it
        self.single = self.mpc.single
        self.z_goal = self.mpc.z_goal.detach().clone()  # (B, D)
        B = len(self.z_goal)
        fsA = self.meta.frameskip * self.meta.action_dim
        self.meter.reset()
        self.history = LatentHistory(self.meta.history, fsA)
        self.triggers = GuardState(B, self.guard) if self.guard is not None else None
        H = self.mpc.cfg.horizon
        self.plan_raw = np.zeros((B, H * self.meta.frameskip, self.meta.action_dim), np.float32)
        self.follow = np.zeros(B, dtype=int)  # blocks of a triggered plan still to execute
        self.plan_pos = np.zeros(B, dtype=int)
        self.block = 0
        self._last: np.ndarray | None = None  # (B, fs, A) raw block handed out last
        self.log = []

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """The frame(s) now -> the next block of raw actions (fs, A) or (B, fs, A).

        active (B,) bool: environments still running (default all); finished ones are neither logged nor
        planned for (their frames no longer change).
        """
        batch = self._as_batch(obs)
        B = len(batch)
        active = np.ones(B, bool) if active is None else np.asarray(active, bool).reshape(B)
        if self.mode == "planner":
            block, reasons, ms, calls, surprise, cost, planned = self._act_planner(batch, active)
        else:
            block, reasons, ms, calls, surprise, cost, planned = self._act_fast(batch, active)
        for i in np.flatnonzero(active):
            loop = "planner" if reasons[i] else "policy"
            self.log.append(Decision(env=int(i), block=self.block, loop=loop, reason=str(reasons[i]),
                                     surprise=float(surprise[i]), latent_cost=float(cost[i]), ms=float(ms[i]),
                                     model_calls=int(calls[i]), planned=bool(planned[i])))  # fmt: skip
        self._last = block
        self.block += 1
        return block[0] if self.single else block

    # -------------------------------------------------------------------------------- internals
    def _as_batch(self, obs: np.ndarray) -> np.ndarray:
        goal = self.mpc.goal_obs
        if goal is None:
            raise JepaworldError("call reset(goal_obs) before act(obs)")
        obs = np.asarray(obs)
        batch = obs[None] if self.single else obs
        if batch.shape != goal.shape or batch.dtype != np.uint8:
            raise JepaworldError(f"obs {obs.dtype} {tuple(obs.shape)} must match the goal images "
                                 f"{tuple(goal.shape[1:] if self.single else goal.shape)} given to reset() (uint8)")
        return batch

    def _observe(self, batch: np.ndarray) -> tuple[np.ndarray, torch.Tensor]:
        """Surprise of the new frames (B,) and their embeddings (B, D) (one encoder call)."""
        s = self.meter.update(batch, self._last) if self._last is not None else self.meter.update(batch)
        z = self.meter.embedding
        assert z is not None  # update() just set it
        return np.asarray(s, np.float64).reshape(-1), z.clone()

    def _act_planner(self, batch: np.ndarray, active: np.ndarray) -> tuple:
        plans = self.mpc.plans
        t0 = time.perf_counter()
        block = self.mpc.act(batch if not self.single else batch[0])
        seconds = time.perf_counter() - t0
        block = block[None] if self.single else block
        surprise, z = self._observe(batch)  # logged only: not part of the decision (nor its time)
        B = len(batch)
        planned = np.full(B, self.mpc.plans > plans)
        calls = np.where(planned, 1 + self.plan_calls, 1)  # encoder frame (+ the plan's predictor steps)
        reasons = np.full(B, "mpc", dtype=object)
        return block, reasons, np.full(B, 1000 * seconds / B), calls, surprise, self._cost(z), planned

    @torch.no_grad()  # plan() turns autograd back on for a planner that needs it
    def _act_fast(self, batch: np.ndarray, active: np.ndarray) -> tuple:
        assert self.policy is not None  # the policy and guarded modes load one in __init__
        t0 = time.perf_counter()
        surprise, z = self._observe(batch)
        executed = None
        if self._last is not None:
            executed = torch.as_tensor(self.meta.normalizer.normalize_action(self._last).reshape(len(batch), -1),
                                       dtype=torch.float32, device=self.device)  # fmt: skip
        self.history.push(z, executed)
        cost = self._cost(z)
        proposal = self.policy.act(z, self.z_goal)  # (B, fs*A)
        B, fs, A = len(batch), self.meta.frameskip, self.meta.action_dim
        block = self._to_raw(proposal.reshape(B, 1, fs * A)).reshape(B, fs, A)
        calls = np.full(B, 3)  # encoder frame, surprise predictor step, policy call
        reasons = np.full(B, "", dtype=object)
        shared = time.perf_counter() - t0
        plan_ms = np.zeros(B)
        planned = np.zeros(B, bool)
        if self.mode == "guarded":
            assert self.triggers is not None  # reset() makes them in guarded mode
            fresh = self.triggers.check(surprise, cost, active)
            rows = np.flatnonzero(fresh != "")
            planned[rows] = True
            if len(rows):
                t1 = time.perf_counter()
                self._plan_rows(rows)
                plan_ms[rows] = 1000 * (time.perf_counter() - t1) / len(rows)
                calls[rows] += self.plan_calls + 2 * self.mpc.cfg.horizon - 1  # + the policy's latent proposal
                self.triggers.planned(rows)
            following = np.flatnonzero(self.follow > 0)
            for i in following:
                p = self.plan_pos[i]
                block[i] = self.plan_raw[i, p * fs : (p + 1) * fs]
                self.plan_pos[i] += 1
                self.follow[i] -= 1
                reasons[i] = fresh[i] or "plan"
        return block, reasons, 1000 * shared / B + plan_ms, calls, surprise, cost, planned

    def _plan_rows(self, rows: np.ndarray) -> None:
        """Plan the given rows from their current latent history, warm-started from the policy's proposal."""
        h, policy, guard = self.history, self.policy, self.guard
        # guarded mode loads a policy and a guard; _act_fast pushed the frame before planning
        assert h.z_hist is not None and h.hist_blocks is not None and policy is not None and guard is not None
        idx = torch.as_tensor(rows, device=self.device)
        z_hist, hist_blocks, z_goal = h.z_hist[idx], h.hist_blocks[idx], self.z_goal[idx]
        init = latent_rollout(self.model, policy, z_hist, hist_blocks, z_goal, self.mpc.cfg.horizon)
        result = self.mpc.plan_latent(z_hist, z_goal, hist_blocks, init=init)
        self.plan_raw[rows] = self._to_raw(result.actions.detach())
        self.plan_pos[rows] = 0
        self.follow[rows] = min(guard.follow_blocks, self.mpc.cfg.horizon)

    def _to_raw(self, blocks: torch.Tensor) -> np.ndarray:
        """Normalised blocks (N, K, fs*A) -> raw actions (N, K*fs, A) clipped to the action box."""
        N, K = blocks.shape[:2]
        fs, A = self.meta.frameskip, self.meta.action_dim
        raw = self.meta.normalizer.denormalize_action(blocks.reshape(N, K * fs, A).float().cpu().numpy())
        return np.clip(raw, self.mpc.action_low, self.mpc.action_high).astype(np.float32)

    def _cost(self, z: torch.Tensor) -> np.ndarray:
        return (z - self.z_goal).square().sum(-1).float().cpu().numpy().astype(np.float64)
