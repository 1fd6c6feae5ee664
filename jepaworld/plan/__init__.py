"""Latent-space planners. Each depends only on a cost function over normalised action blocks:

    cost_fn(actions: (B, S, H, frameskip * action_dim)) -> (B, S)

B environments, S candidate plans each, H action blocks per plan. Every planner has the
signature ``planner(cost_fn, batch, horizon, frameskip, action_dim, cfg, init=None,
generator=None, **options) -> PlanResult`` and makes one batched cost call per iteration.
"""

from __future__ import annotations

from jepaworld.plan.cem import cem
from jepaworld.plan.dispatch import PLANNERS, Planner, make_planner, plan, run_planner
from jepaworld.plan.gd import gd
from jepaworld.plan.mppi import mppi
from jepaworld.plan.noise import NOISE_MODES, sample_noise
from jepaworld.plan.protocol import Bounds, CostFn, PlanResult
from jepaworld.plan.warm import shift_plan

__all__ = [
    "NOISE_MODES",
    "PLANNERS",
    "Bounds",
    "CostFn",
    "PlanResult",
    "Planner",
    "cem",
    "gd",
    "make_planner",
    "mppi",
    "plan",
    "run_planner",
    "sample_noise",
    "shift_plan",
]
