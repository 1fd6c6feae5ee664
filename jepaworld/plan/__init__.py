"""Latent-space planners and the closed loop that drives them.

A planner depends only on a cost function over normalised action blocks::

    cost_fn(actions: (B, S, H, frameskip * action_dim)) -> (B, S)
    planner(cost_fn, problem: PlanProblem, cfg: PlanConfig, init=None, generator=None) -> PlanResult

B environments, S candidate plans each, H action blocks per plan; one batched cost call per
iteration. Planners register by name (``PLANNERS``, ``get_planner``) and declare what they need.
``LatentMPC`` runs the closed loop with a world model.
"""

from __future__ import annotations

from jepaworld.plan.cem import cem
from jepaworld.plan.gd import gd
from jepaworld.plan.mpc import LatentMPC, act_together
from jepaworld.plan.mppi import mppi
from jepaworld.plan.noise import NOISE_MODES, sample_noise
from jepaworld.plan.problem import Bounds, CostFn, PlanProblem, PlanResult
from jepaworld.plan.registry import PLANNERS, PlannerEntry, get_planner, plan, register_planner
from jepaworld.plan.warm import shift_plan

__all__ = [
    "NOISE_MODES",
    "PLANNERS",
    "Bounds",
    "CostFn",
    "LatentMPC",
    "PlanProblem",
    "PlanResult",
    "PlannerEntry",
    "act_together",
    "cem",
    "gd",
    "get_planner",
    "mppi",
    "plan",
    "register_planner",
    "sample_noise",
    "shift_plan",
]
