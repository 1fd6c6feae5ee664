"""Choose a planner by name (``cfg.planner``) and run it."""

from __future__ import annotations

from typing import Any, Protocol

import torch
from torch import Tensor

from jepaworld.config.schema import PlanConfig
from jepaworld.plan.cem import cem
from jepaworld.plan.gd import gd
from jepaworld.plan.mppi import mppi
from jepaworld.plan.protocol import CostFn, PlanResult
from jepaworld.plan.warm import shift_plan

__all__ = ["PLANNERS", "Planner", "make_planner", "plan", "run_planner", "shift_plan"]


class Planner(Protocol):
    def __call__(
        self,
        cost_fn: CostFn,
        batch: int,
        horizon: int,
        frameskip: int,
        action_dim: int,
        cfg: PlanConfig,
        init: Tensor | None = None,
        generator: torch.Generator | None = None,
        **options: Any,
    ) -> PlanResult: ...


PLANNERS: dict[str, Planner] = {"cem": cem, "mppi": mppi, "gd": gd}


def make_planner(name: str) -> Planner:
    """The planner called ``name`` ("cem", "mppi" or "gd"; usually ``cfg.planner``)."""
    try:
        return PLANNERS[name]
    except KeyError:
        raise ValueError(f"unknown planner {name!r}; expected one of {sorted(PLANNERS)}") from None


def plan(
    name: str,
    cost_fn: CostFn,
    batch: int,
    horizon: int,
    frameskip: int,
    action_dim: int,
    cfg: PlanConfig,
    init: Tensor | None = None,
    generator: torch.Generator | None = None,
    **options: Any,
) -> PlanResult:
    """Run planner ``name``; ``options`` go to it (e.g. ``bounds=(lo, hi)``, ``device=``)."""
    planner = make_planner(name)
    return planner(cost_fn, batch, horizon, frameskip, action_dim, cfg, init, generator, **options)


def run_planner(
    cost_fn: CostFn,
    *,
    batch: int,
    frameskip: int,
    action_dim: int,
    cfg: PlanConfig,
    init: Tensor | None = None,
    generator: torch.Generator | None = None,
    low: Tensor | None = None,
    high: Tensor | None = None,
) -> Tensor:
    """MPC's entry point: plan ``cfg.horizon`` blocks with ``cfg.planner`` -> actions (B, H, fs*A).

    low, high: (fs*A,) normalised action box (both or neither); planning happens on their device
    (else init's, else the generator's), so a CPU generator can drive a CUDA cost function.
    """
    if (low is None) != (high is None):
        raise ValueError("pass both low and high action bounds, or neither")
    bounds = None if low is None or high is None else (low, high)
    device = low.device if low is not None else None
    result = plan(
        cfg.planner, cost_fn, batch, cfg.horizon, frameskip, action_dim, cfg, init, generator,
        bounds=bounds, device=device,
    )  # fmt: skip
    return result.actions
