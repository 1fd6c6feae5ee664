"""Model-predictive control in latent space for a batch of environments.

Every ``frameskip`` env steps the controller sees a new frame; every ``receding`` blocks it plans
``horizon`` action blocks toward the goal embedding with the configured planner, then hands back
raw (de-normalised, clipped) actions to execute.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import numpy as np
import torch

from jepaworld.config import PlanConfig
from jepaworld.data import Normalizer
from jepaworld.plan.dispatch import run_planner, shift_plan


class LatentMPC:
    """Plans for B environments at once with a world model answering ``cost``.

    model: a ``WorldModel`` (``encode`` and ``cost``); normalizer: the dataset's action statistics.
    """

    def __init__(
        self,
        model: torch.nn.Module,
        normalizer: Normalizer,
        cfg: PlanConfig,
        frameskip: int,
        history: int,
        action_low: np.ndarray,
        action_high: np.ndarray,
        seed: int = 0,
    ) -> None:
        self.model, self.normalizer, self.cfg = model, normalizer, cfg
        self.frameskip, self.history = frameskip, history
        self.action_low = np.asarray(action_low, dtype=np.float32)
        self.action_high = np.asarray(action_high, dtype=np.float32)
        self.action_dim = int(self.action_low.shape[0])
        self.device = next(model.parameters()).device
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        lo = normalizer.normalize_action(self.action_low)
        hi = normalizer.normalize_action(self.action_high)
        self.low = torch.as_tensor(np.tile(lo, frameskip), dtype=torch.float32, device=self.device)
        self.high = torch.as_tensor(np.tile(hi, frameskip), dtype=torch.float32, device=self.device)
        self.plan_times: list[float] = []

    @torch.inference_mode()
    def _encode(self, pixels: np.ndarray) -> torch.Tensor:
        """pixels uint8 (B, H, W, 3) -> z (B, D)."""
        x = torch.as_tensor(np.ascontiguousarray(pixels), device=self.device)
        return self.model.encode(x[:, None])[:, 0]

    def reset(self, obs: np.ndarray, goal: np.ndarray) -> None:
        """Start B episodes: current frames and goal images, uint8 (B, H, W, 3) each."""
        if obs.shape != goal.shape:
            raise ValueError(f"goal images {goal.shape} must match observations {obs.shape}")
        self.z_goal = self._encode(goal)
        z = self._encode(obs)
        self.z_hist = z[:, None].repeat(
            1, self.history, 1
        )  # (B, h, D): the first frame stands in for the past
        self.hist_blocks = torch.zeros(
            len(obs), self.history - 1, self.frameskip * self.action_dim, device=self.device
        )
        self.prev_plan: torch.Tensor | None = None

    def observe(self, obs: np.ndarray, executed: np.ndarray) -> None:
        """A new frame after executing one action block: obs (B, H, W, 3), executed raw (B, fs, A)."""
        z = self._encode(obs)
        self.z_hist = torch.cat([self.z_hist[:, 1:], z[:, None]], dim=1)
        if self.history > 1:
            block = self.normalizer.normalize_action(executed).reshape(len(obs), -1)
            block_t = torch.as_tensor(block, dtype=torch.float32, device=self.device)
            self.hist_blocks = torch.cat([self.hist_blocks[:, 1:], block_t[:, None]], dim=1)

    def _cost_fn(self) -> Callable[[torch.Tensor], torch.Tensor]:
        z_hist, z_goal, hist_blocks = self.z_hist, self.z_goal, self.hist_blocks
        mode = self.cfg.cost

        def cost_fn(actions: torch.Tensor) -> torch.Tensor:
            return self.model.cost(z_hist, z_goal, actions, mode=mode, hist_blocks=hist_blocks)

        return cost_fn

    def plan(self, executed_blocks: int = 0) -> np.ndarray:
        """Plan ``horizon`` blocks; returns raw actions (B, horizon*frameskip, A), clipped to the box.

        executed_blocks: blocks of the previous plan executed since it was made (for warm starts).
        """
        init = None
        if self.cfg.warm_start and self.prev_plan is not None and executed_blocks < self.cfg.horizon:
            init = shift_plan(self.prev_plan, executed_blocks)
        t0 = time.perf_counter()
        grad = self.cfg.planner == "gd"
        with torch.inference_mode(not grad), torch.set_grad_enabled(grad):
            blocks = run_planner(
                self._cost_fn(), batch=len(self.z_goal), frameskip=self.frameskip, action_dim=self.action_dim,
                cfg=self.cfg, init=init, generator=self.generator, low=self.low, high=self.high,
            )  # fmt: skip
        self.plan_times.append(time.perf_counter() - t0)
        self.prev_plan = blocks.detach()
        B, H = blocks.shape[:2]
        raw = self.normalizer.denormalize_action(
            blocks.detach().reshape(B, H * self.frameskip, self.action_dim).cpu().numpy()
        )
        return np.clip(raw, self.action_low, self.action_high).astype(np.float32)
