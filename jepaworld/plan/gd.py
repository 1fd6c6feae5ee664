"""Gradient planner: Adam on the action sequence through a differentiable cost.

The S dimension of the cost call holds ``cfg.gd_restarts`` independent restarts per env:
restart 0 starts at the initial mean (zeros or the warm start), the others at
mean + init_std * noise. All restarts of all envs descend together, one cost call per step.
"""

from __future__ import annotations

import torch
from torch import Tensor

from jepaworld.config.schema import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.plan.noise import NoiseSource, sample_noise
from jepaworld.plan.problem import CostFn, PlanProblem, PlanResult, call_cost, clip, keep_best
from jepaworld.plan.registry import register_planner


@register_planner("gd", needs_grad=True)
def gd(
    cost_fn: CostFn,
    problem: PlanProblem,
    cfg: PlanConfig,
    init: Tensor | None = None,
    generator: NoiseSource | None = None,
) -> PlanResult:
    """Plan B environments at once by gradient descent; ``cfg.gd_steps + 1`` calls of ``cost_fn``.

    cost_fn: actions (B, R, H, D) -> (B, R), differentiable in the actions, R = cfg.gd_restarts.
    Runs ``cfg.gd_steps`` Adam steps (lr ``cfg.gd_lr``) on each restart, projecting onto
    ``bounds`` after every step, and evaluates the final iterates once more. Gradients are
    taken with ``torch.autograd.grad`` w.r.t. the actions only: the world model's ``.grad``
    buffers are left untouched. Returns the cheapest iterate of any restart at any step and,
    as ``mean``, the final iterate of the restart that ends cheapest.
    """
    R = cfg.gd_restarts
    if R < 1 or cfg.gd_steps < 0:
        raise JepaworldError(f"gd needs gd_restarts >= 1 and gd_steps >= 0; got {R}, {cfg.gd_steps}")
    mean, bounds = problem.setup(init, generator)  # (B, H, D)
    batch, dev, dtype = problem.batch, mean.device, mean.dtype
    noise = sample_noise(
        cfg.noise, batch, R - 1, problem.horizon, problem.frameskip, problem.action_dim,
        beta=cfg.noise_beta, generator=generator, device=dev, dtype=dtype,
    )  # fmt: skip
    starts = torch.cat([mean.unsqueeze(1), mean.unsqueeze(1) + cfg.init_std * noise], dim=1)
    actions = clip(starts, bounds).requires_grad_(True)  # (B, R, H, D)
    opt = torch.optim.Adam([actions], lr=cfg.gd_lr)
    best, best_cost = mean.clone(), torch.full((batch,), float("inf"), device=dev, dtype=dtype)
    costs = []
    for _ in range(cfg.gd_steps):
        with torch.enable_grad():
            cost = call_cost(cost_fn, actions)  # (B, R)
            if not cost.requires_grad:
                raise JepaworldError(
                    "gd needs a cost_fn that is differentiable in the actions (its output has no"
                    " grad_fn); do not wrap the world model call in torch.no_grad, or use cem / mppi."
                )
            (grad,) = torch.autograd.grad(cost.sum(), actions)  # restarts are independent
        with torch.no_grad():
            best, best_cost = keep_best(actions.detach(), cost.detach(), best, best_cost)
            costs.append(cost.detach().amin(dim=1))
            actions.grad = grad
            opt.step()
            actions.copy_(clip(actions, bounds))
    with torch.no_grad():
        final = actions.detach()
        cost = call_cost(cost_fn, final)
        best, best_cost = keep_best(final, cost, best, best_cost)
        costs.append(cost.amin(dim=1))
        last = final[torch.arange(batch, device=dev), cost.argmin(dim=1)]  # (B, H, D)
    return PlanResult(actions=best, cost=best_cost, mean=last, costs=torch.stack(costs, dim=1))
