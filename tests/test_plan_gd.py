"""Gradient planner specifics: differentiability is required, model grads are left alone."""

import pytest
import torch

from jepaworld.config.schema import PlanConfig
from jepaworld.plan import PlanProblem, gd

B, H, FS, A = 2, 2, 5, 2
D = FS * A
PROBLEM = PlanProblem(B, H, FS, A)


def test_model_parameter_grads_are_untouched():
    weight = torch.nn.Parameter(torch.ones(D))

    def cost_fn(actions):
        return ((actions * weight - 0.5) ** 2).sum(dim=(-1, -2))

    result = gd(cost_fn, PROBLEM, PlanConfig(gd_steps=40, gd_restarts=3), generator=torch.Generator())
    assert weight.grad is None
    assert (result.cost < 0.05).all()


def test_works_inside_no_grad():
    with torch.no_grad():
        result = gd(lambda a: (a**2).sum(dim=(-1, -2)), PROBLEM, PlanConfig(gd_steps=5, gd_restarts=2))
    assert result.actions.shape == (B, H, D)


def test_non_differentiable_cost_is_reported():
    def cost_fn(actions):
        return (actions.detach() ** 2).sum(dim=(-1, -2))

    with pytest.raises(ValueError, match="differentiable"):
        gd(cost_fn, PROBLEM, PlanConfig(gd_steps=3, gd_restarts=2))


def test_restarts_are_the_sample_dimension():
    shapes = []

    def cost_fn(actions):
        shapes.append(tuple(actions.shape))
        return (actions**2).sum(dim=(-1, -2))

    gd(cost_fn, PROBLEM, PlanConfig(gd_steps=4, gd_restarts=6))
    assert shapes == [(B, 6, H, D)] * 5
