"""What every planner shares: the problem it searches, the cost-function protocol, the result.

A planner knows nothing about world models. It sees only a cost function over *normalised
action blocks*: B environments, S candidate plans each, H blocks per plan, and each block the
``frameskip`` raw actions of dim ``A`` flattened step-major to ``D = frameskip * A`` dims
(block[k * A + a] is raw step k, action dim a), exactly as the world model consumes them.

Every planner has one signature::

    planner(cost_fn, problem: PlanProblem, cfg: PlanConfig, init=None, generator=None) -> PlanResult
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from jepaworld.errors import JepaworldError
from jepaworld.plan.noise import NoiseSource

Bounds = tuple[Tensor, Tensor]  # (lo, hi), each (D,) or (H, D), in normalised action space


@dataclass(frozen=True)
class PlanProblem:
    """What to plan: ``batch`` environments, ``horizon`` blocks of ``frameskip * action_dim`` dims.

    bounds: (lo, hi), each (D,) or (H, D): the normalised image of the action box; candidates are
            clipped to it (None: unbounded).
    device: where planning runs (default: init's device, else the generator's, else the CPU), so a
            CPU generator can drive a CUDA cost function.
    """

    batch: int
    horizon: int
    frameskip: int
    action_dim: int
    bounds: Bounds | None = None
    device: torch.device | str | None = None

    def __post_init__(self) -> None:
        for name in ("batch", "horizon", "frameskip", "action_dim"):
            if getattr(self, name) < 1:
                raise JepaworldError(f"plan problem: {name} must be >= 1, got {getattr(self, name)}")

    @property
    def dim(self) -> int:
        """D = frameskip * action_dim, the width of one action block."""
        return self.frameskip * self.action_dim

    def setup(self, init: Tensor | None, generator: NoiseSource | None) -> tuple[Tensor, Bounds | None]:
        """The starting mean (B, H, D) clipped to the bounds, and the bounds on its device."""
        dev = planning_device(init, generator, self.device)
        dtype = init.dtype if init is not None else torch.float32
        bounds = check_bounds(self.bounds, self.horizon, self.dim, dev, dtype)
        mean = initial_mean(self.batch, self.horizon, self.dim, init, dev, dtype)
        return clip(mean, bounds), bounds


class CostFn(Protocol):
    def __call__(self, actions: Tensor, /) -> Tensor:
        """actions: (B, S, H, D) -> cost (B, S), lower is better."""
        ...


@dataclass
class PlanResult:
    """The outcome of one planning call for B environments.

    actions: (B, H, D) the best candidate any cost call evaluated (what MPC should execute).
    cost:    (B,) its cost.
    mean:    (B, H, D) the sampling mean after the last update (CEM: the mean of the last
             elites, which the published planner executes; MPPI: the last weighted mean; GD: the
             last iterate of the best restart). Not evaluated by the cost function.
    costs:   (B, N) the best cost among the candidates of each of the N cost calls.
    """

    actions: Tensor
    cost: Tensor
    mean: Tensor
    costs: Tensor


def call_cost(cost_fn: CostFn, actions: Tensor) -> Tensor:
    """Call ``cost_fn`` on actions (B, S, H, D) and check that it answers (B, S).

    Non-finite costs (NaN) become +inf so that they are never chosen.
    """
    cost = cost_fn(actions)
    if cost.shape != actions.shape[:2]:
        raise JepaworldError(
            f"cost_fn must return one cost per (env, sample): expected shape {tuple(actions.shape[:2])}"
            f" for actions of shape {tuple(actions.shape)}, got {tuple(cost.shape)}. Reduce the cost"
            " over the horizon and latent dims inside cost_fn."
        )
    return torch.nan_to_num(cost, nan=float("inf"))


def initial_mean(
    batch: int, horizon: int, dim: int, init: Tensor | None, device: torch.device, dtype: torch.dtype
) -> Tensor:
    """The starting mean (B, H, D): ``init`` (e.g. a shifted previous plan) or zeros."""
    if init is None:
        return torch.zeros(batch, horizon, dim, device=device, dtype=dtype)
    if init.shape != (batch, horizon, dim):
        raise JepaworldError(
            f"init must be (batch, horizon, frameskip*action_dim) = {(batch, horizon, dim)},"
            f" got {tuple(init.shape)}; use jepaworld.plan.shift_plan to re-use a previous plan."
        )
    return init.to(device=device, dtype=dtype).clone()


def planning_device(
    init: Tensor | None, generator: NoiseSource | None, device: torch.device | str | None
) -> torch.device:
    """Where to plan: the explicit device, else init's, else the generator's, else the CPU."""
    if device is not None:
        return torch.device(device)
    if init is not None:
        return init.device
    if generator is not None:
        return generator.device
    return torch.device("cpu")


def clip(actions: Tensor, bounds: Bounds | None) -> Tensor:
    """Clip actions (..., H, D) to the normalised action box ``bounds = (lo, hi)``."""
    if bounds is None:
        return actions
    lo, hi = bounds
    return torch.maximum(torch.minimum(actions, hi), lo)


def check_bounds(bounds: Bounds | None, horizon: int, dim: int, device: torch.device, dtype) -> Bounds | None:
    """Validate bounds ((D,) or (H, D) each) and move them to the planner's device."""
    if bounds is None:
        return None
    lo, hi = (torch.as_tensor(b, device=device, dtype=dtype) for b in bounds)
    for name, b in (("lo", lo), ("hi", hi)):
        if b.shape not in ((dim,), (horizon, dim)):
            raise JepaworldError(
                f"bounds {name} must have shape (frameskip*action_dim,) = ({dim},) or"
                f" (horizon, frameskip*action_dim) = ({horizon}, {dim}), got {tuple(b.shape)}"
            )
    if bool((lo > hi).any()):
        raise JepaworldError("bounds: lo must be <= hi everywhere")
    return lo, hi


def keep_best(candidates: Tensor, cost: Tensor, best: Tensor, best_cost: Tensor) -> tuple[Tensor, Tensor]:
    """Update the best plan per env: candidates (B, S, H, D), cost (B, S), best (B, H, D), (B,)."""
    it_idx = cost.argmin(dim=1)  # (B,); argmin + gather: min(dim=) is slow on small CPU tensors
    it_cost = cost.gather(1, it_idx.unsqueeze(1)).squeeze(1)
    it_best = candidates[torch.arange(cost.shape[0], device=cost.device), it_idx]  # (B, H, D)
    better = it_cost < best_cost
    best = torch.where(better[:, None, None], it_best, best)
    return best, torch.where(better, it_cost, best_cost)
