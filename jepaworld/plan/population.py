"""The sampling loop CEM and MPPI share; they differ only in how they refit the Gaussian.

Every iteration draws S candidate plans for all B environments around (mean, std), keeps the
current mean as candidate 0 (so a good mean, e.g. a warm start, is never lost), makes *one* cost
call on (B, S, H, D), remembers the cheapest candidate seen, and lets ``refit`` move the Gaussian.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from jepaworld.config.schema import PlanConfig
from jepaworld.plan.noise import NoiseSource, sample_noise
from jepaworld.plan.problem import CostFn, PlanProblem, PlanResult, call_cost, clip, keep_best

# refit(candidates (B, S, H, D), cost (B, S), std (B, H, D)) -> new (mean, std), each (B, H, D)
Refit = Callable[[Tensor, Tensor, Tensor], tuple[Tensor, Tensor]]


def population_search(
    cost_fn: CostFn,
    problem: PlanProblem,
    cfg: PlanConfig,
    refit: Refit,
    init: Tensor | None,
    generator: NoiseSource | None,
) -> PlanResult:
    """``cfg.iterations`` rounds of sample -> one cost call -> refit; see the module docstring.

    With ``cfg.keep_elites`` = k > 0 (iCEM), the k cheapest candidates of an iteration are candidates
    1..k of the next one, and only S - 1 - k new samples are drawn.
    """
    mean, bounds = problem.setup(init, generator)  # (B, H, D)
    B, H = problem.batch, problem.horizon
    std = torch.full_like(mean, cfg.init_std)
    best = mean.clone()
    best_cost = torch.full((B,), float("inf"), device=mean.device, dtype=mean.dtype)
    rows = torch.arange(B, device=mean.device).unsqueeze(1)
    kept = mean.new_zeros(B, 0, *mean.shape[1:])  # (B, k, H, D) elites carried over
    costs = []
    for _ in range(cfg.iterations):
        noise = sample_noise(
            cfg.noise, B, cfg.samples - 1 - kept.shape[1], H, problem.frameskip, problem.action_dim,
            beta=cfg.noise_beta, generator=generator, device=mean.device, dtype=mean.dtype,
        )  # fmt: skip
        samples = clip(mean.unsqueeze(1) + std.unsqueeze(1) * noise, bounds)
        candidates = torch.cat([mean.unsqueeze(1), kept, samples], dim=1)  # (B, S, H, D)
        cost = call_cost(cost_fn, candidates)  # (B, S)
        best, best_cost = keep_best(candidates, cost, best, best_cost)
        costs.append(cost.amin(dim=1))
        if cfg.keep_elites:
            kept = candidates[rows, cost.topk(cfg.keep_elites, dim=1, largest=False).indices]
        mean, std = refit(candidates, cost, std)
    return PlanResult(actions=best, cost=best_cost, mean=mean, costs=torch.stack(costs, dim=1))
