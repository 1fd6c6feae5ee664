"""Planners by name. Each planner module registers itself and declares what it needs.

    @register_planner("cem")
    def cem(cost_fn, problem, cfg, init=None, generator=None) -> PlanResult: ...

    get_planner("gd").needs_grad      # True: the closed loop runs it with autograd on
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor

from jepaworld.config.schema import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.plan.noise import NoiseSource
from jepaworld.plan.problem import CostFn, PlanProblem, PlanResult


class Planner(Protocol):
    def __call__(
        self,
        cost_fn: CostFn,
        problem: PlanProblem,
        cfg: PlanConfig,
        init: Tensor | None = None,
        generator: NoiseSource | None = None,
    ) -> PlanResult: ...


@dataclass(frozen=True)
class PlannerEntry:
    """A registered planner: its function and what it needs from the cost function."""

    name: str
    fn: Planner
    needs_grad: bool  # the cost function must be differentiable in the actions


PLANNERS: dict[str, PlannerEntry] = {}


def register_planner(name: str, *, needs_grad: bool = False) -> Callable[[Planner], Planner]:
    """Decorator: make ``fn`` available as ``cfg.planner == name``."""

    def register(fn: Planner) -> Planner:
        PLANNERS[name] = PlannerEntry(name=name, fn=fn, needs_grad=needs_grad)
        return fn

    return register


def get_planner(name: str) -> PlannerEntry:
    """The planner registered as ``name`` (``cfg.planner``); an unknown name lists the known ones."""
    try:
        return PLANNERS[name]
    except KeyError:
        raise JepaworldError(f"unknown planner {name!r}; expected one of {', '.join(sorted(PLANNERS))}") from None


def plan(
    cost_fn: CostFn,
    problem: PlanProblem,
    cfg: PlanConfig,
    init: Tensor | None = None,
    generator: NoiseSource | None = None,
) -> PlanResult:
    """Run ``cfg.planner`` on ``problem``: under inference mode, or with autograd on when it needs it."""
    entry = get_planner(cfg.planner)
    with torch.inference_mode(not entry.needs_grad), torch.set_grad_enabled(entry.needs_grad):
        return entry.fn(cost_fn, problem, cfg, init, generator)
