"""Cross-entropy method over normalised action blocks (LeWM / DINO-WM / TD-MPC2 style).

One vectorised loop: every iteration draws S candidate plans for all B environments, makes
*one* cost call on (B, S, H, D), refits a per-element Gaussian to the ``elites`` best, and
keeps the current mean as candidate 0 so that a good mean (e.g. a warm start) is never lost.
"""

from __future__ import annotations

import torch
from torch import Tensor

from jepaworld.config.schema import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.plan.noise import NoiseSource
from jepaworld.plan.population import population_search
from jepaworld.plan.problem import CostFn, PlanProblem, PlanResult
from jepaworld.plan.registry import register_planner


@register_planner("cem")
@torch.no_grad()
def cem(
    cost_fn: CostFn,
    problem: PlanProblem,
    cfg: PlanConfig,
    init: Tensor | None = None,
    generator: NoiseSource | None = None,
    *,
    min_std: float = 0.0,
) -> PlanResult:
    """Plan B environments at once with CEM; ``cfg.iterations`` calls of ``cost_fn``.

    cost_fn: actions (B, S, H, D) -> (B, S) with S = cfg.samples and D = problem.dim.
    init:    (B, H, D) starting mean (e.g. ``shift_plan`` of the previous plan); zeros if None.
    min_std: floor on the refitted std (0 = none, as published).

    Each iteration: candidates = [mean, clip(mean + std * noise) x (S - 1)], noise drawn per
    ``cfg.noise`` (see ``sample_noise``); the ``cfg.elites`` cheapest refit mean and std per
    element. Returns the cheapest candidate evaluated in any iteration (``PlanResult.actions``)
    and the final refitted mean (``PlanResult.mean``, what the published planner executes).
    """
    S, E = cfg.samples, cfg.elites
    if not 1 <= E <= S or S < 2 or cfg.iterations < 1:
        raise JepaworldError(
            "cem needs samples >= 2, 1 <= elites <= samples and iterations >= 1;"
            f" got samples={S}, elites={E}, iterations={cfg.iterations}"
        )

    def refit(candidates: Tensor, cost: Tensor, std: Tensor) -> tuple[Tensor, Tensor]:
        elite_idx = cost.topk(E, dim=1, largest=False).indices  # (B, E)
        rows = torch.arange(problem.batch, device=cost.device).unsqueeze(1)
        elites = candidates[rows, elite_idx]  # (B, E, H, D)
        return elites.mean(dim=1), elites.std(dim=1, unbiased=False).clamp_min(min_std)

    return population_search(cost_fn, problem, cfg, refit, init, generator)
