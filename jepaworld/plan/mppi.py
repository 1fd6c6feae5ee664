"""Model-predictive path integral control (MPPI) over normalised action blocks.

Like CEM, but every candidate contributes to the new mean with weight
softmax(-(c - min c) / (temperature * spread)) instead of a hard elite cut, where spread is the
standard deviation of that environment's candidate costs: the temperature is relative, so one
value works whatever the scale of the latent cost (tens for one model, thousands for another).
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


@register_planner("mppi")
@torch.no_grad()
def mppi(
    cost_fn: CostFn,
    problem: PlanProblem,
    cfg: PlanConfig,
    init: Tensor | None = None,
    generator: NoiseSource | None = None,
    *,
    update_std: bool = True,
    min_std: float = 0.05,
) -> PlanResult:
    """Plan B environments at once with MPPI; ``cfg.iterations`` calls of ``cost_fn``.

    Arguments as for ``cem``. Each iteration: candidates = [mean, clip(mean + std * noise) x
    (S - 1)]; weights w = softmax(-(c - min c) / (cfg.temperature * std of c)) over the S
    candidates; new mean = sum w * candidate; with ``update_std`` the std becomes the weighted
    std per element, floored at ``min_std`` (a near-greedy temperature would otherwise collapse
    it in one step), else it stays ``cfg.init_std``.
    Returns the cheapest candidate evaluated and the final mean.
    """
    S = cfg.samples
    if S < 2 or cfg.iterations < 1 or cfg.temperature <= 0:
        raise JepaworldError(
            "mppi needs samples >= 2, iterations >= 1 and temperature > 0;"
            f" got samples={S}, iterations={cfg.iterations}, temperature={cfg.temperature}"
        )

    def refit(candidates: Tensor, cost: Tensor, std: Tensor) -> tuple[Tensor, Tensor]:
        weights = path_weights(cost, cfg.temperature).to(candidates.dtype)[:, :, None, None]  # (B, S, 1, 1)
        mean = (weights * candidates).sum(dim=1)
        if update_std:
            var = (weights * (candidates - mean.unsqueeze(1)) ** 2).sum(dim=1)
            std = var.sqrt().clamp_min(min_std)
        return mean, std

    return population_search(cost_fn, problem, cfg, refit, init, generator)


def path_weights(cost: Tensor, temperature: float) -> Tensor:
    """Softmax weights (B, S) of exp(-(c - min c) / (temperature * spread)); +inf costs get weight 0.

    spread: (B, 1) standard deviation of each row's finite costs (1 where it is 0 or undefined).
    """
    finite = torch.isfinite(cost)
    n = finite.sum(dim=1, keepdim=True).clamp_min(1)
    c = torch.where(finite, cost, torch.zeros_like(cost))
    mean = c.sum(dim=1, keepdim=True) / n
    spread = (torch.where(finite, c - mean, torch.zeros_like(c)).square().sum(dim=1, keepdim=True) / n).sqrt()
    spread = torch.where(spread > 0, spread, torch.ones_like(spread))
    weights = torch.exp(-(cost - cost.amin(dim=1, keepdim=True)) / (temperature * spread))  # the best gets 1
    weights = torch.nan_to_num(weights, nan=1.0)  # all costs +inf: uniform
    return weights / weights.sum(dim=1, keepdim=True)
