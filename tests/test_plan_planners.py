"""Shared behaviour of cem, mppi and gd on a quadratic cost with a known optimum."""

import pytest
import torch

from jepaworld.config.schema import PlanConfig
from jepaworld.plan import PLANNERS, PlanProblem, get_planner
from jepaworld.plan import plan as run_registered

pytestmark = pytest.mark.numerics  # costs re-evaluated in other batch shapes

B, H, FS, A = 3, 3, 5, 2
D = FS * A


def block_constant_target(batch: int, seed: int, scale: float = 0.7) -> torch.Tensor:
    """A target plan (batch, H, D) that is constant within each block (reachable by every noise mode)."""
    g = torch.Generator().manual_seed(seed)
    per_block = torch.randn(batch, H, 1, A, generator=g) * scale
    return per_block.expand(batch, H, FS, A).reshape(batch, H, D)


def quadratic(target: torch.Tensor):
    """cost(actions (B, S, H, D)) = ||actions - target||^2, minimum 0 at the target."""
    return lambda actions: ((actions - target.unsqueeze(1)) ** 2).sum(dim=(-1, -2))


def plan(name, cost_fn, batch, horizon, frameskip, action_dim, cfg, init=None, generator=None, bounds=None):
    """Run planner ``name`` through the registry, as the closed loop does."""
    cfg.planner = name
    problem = PlanProblem(batch, horizon, frameskip, action_dim, bounds=bounds)
    return run_registered(cost_fn, problem, cfg, init=init, generator=generator)


def config(name: str, **overrides) -> PlanConfig:
    cfg = PlanConfig(
        planner=name, samples=200, elites=20, iterations=20, temperature=0.5, gd_steps=60, gd_restarts=4
    )
    for key, value in overrides.items():
        setattr(cfg, key, value)
    return cfg


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def random_search_cost(cost_fn, n: int, seed: int) -> torch.Tensor:
    """Best cost (B,) among n N(0, I) plans per env: the baseline every planner must beat."""
    return cost_fn(torch.randn(B, n, H, D, generator=seeded(seed))).amin(dim=1)


@pytest.mark.parametrize("name", sorted(PLANNERS))
@pytest.mark.parametrize("noise", ["iid", "block", "colored"])
def test_reaches_the_optimum_and_beats_random_search(name, noise):
    target = block_constant_target(B, seed=0)
    cost_fn = quadratic(target)
    cfg = config(name, noise=noise)
    result = plan(name, cost_fn, B, H, FS, A, cfg, generator=seeded(1))
    assert result.actions.shape == (B, H, D) and result.mean.shape == (B, H, D)
    assert result.cost.shape == (B,)
    assert torch.allclose(result.cost, cost_fn(result.actions.unsqueeze(1)).squeeze(1))
    baseline = random_search_cost(cost_fn, cfg.samples * cfg.iterations, seed=2)
    assert (result.cost < 0.2 * baseline).all()
    # the zero plan costs ~15; 1/f^2 noise has little power per raw step, and MPPI's soft
    # update converges slowly in 30 independent dims
    tolerance = 1.5 if noise == "colored" else 2.0 if (name, noise) == ("mppi", "iid") else 0.1
    assert (result.cost < tolerance).all(), result.cost


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_warm_start_at_the_optimum_stays_there(name):
    target = block_constant_target(B, seed=3)
    result = plan(
        name, quadratic(target), B, H, FS, A, config(name), init=target.clone(), generator=seeded(0)
    )
    assert torch.equal(result.actions, target)
    assert (result.cost == 0).all()


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_envs_are_planned_independently(name):
    """Env 0's plan must not depend on env 1's cost; batched quality matches planning alone."""
    target = block_constant_target(2, seed=4)
    other = target.clone()
    other[1] = block_constant_target(1, seed=5)[0]
    cfg = config(name)
    a = plan(name, quadratic(target), 2, H, FS, A, cfg, generator=seeded(6))
    b = plan(name, quadratic(other), 2, H, FS, A, cfg, generator=seeded(6))
    assert torch.equal(a.actions[0], b.actions[0])
    assert not torch.equal(a.actions[1], b.actions[1])
    for env in range(2):
        alone = plan(name, quadratic(target[env : env + 1]), 1, H, FS, A, cfg, generator=seeded(7))
        assert alone.cost.item() < 0.1 and a.cost[env].item() < 0.1


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_one_batched_cost_call_per_iteration(name):
    shapes = []
    cost_fn = quadratic(block_constant_target(B, seed=7))

    def spy(actions):
        shapes.append(tuple(actions.shape))
        return cost_fn(actions)

    cfg = config(name)
    result = plan(name, spy, B, H, FS, A, cfg, generator=seeded(0))
    if name == "gd":
        expected = [(B, cfg.gd_restarts, H, D)] * (cfg.gd_steps + 1)
    else:
        expected = [(B, cfg.samples, H, D)] * cfg.iterations
    assert shapes == expected
    assert result.costs.shape == (B, len(expected))
    assert torch.equal(result.cost, result.costs.min(dim=1).values)


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_candidates_respect_bounds(name):
    lo, hi = torch.full((D,), -0.5), torch.full((D,), 0.25)
    target = torch.full((B, H, D), 1.0)  # outside the box: the optimum lies on its edge
    seen = []

    def spy(actions):
        seen.append(actions.detach())
        return quadratic(target)(actions)

    result = plan(name, spy, B, H, FS, A, config(name, iterations=10), generator=seeded(0), bounds=(lo, hi))
    every = torch.cat([s.reshape(-1, D) for s in seen])
    assert (every >= lo).all() and (every <= hi).all()
    edge = torch.full_like(result.actions, 0.25)  # the best plan inside the box
    optimum = quadratic(target)(edge.unsqueeze(1)).squeeze(1)
    assert (result.cost < optimum + 1.0).all()  # zero plan: 90


@pytest.mark.parametrize("name", sorted(PLANNERS))
def test_wrong_cost_shape_is_reported(name):
    with pytest.raises(ValueError, match="one cost per"):
        plan(name, lambda a: a.sum(dim=(-1, -2, -3)), B, H, FS, A, config(name))


def test_bad_init_shape_is_reported():
    with pytest.raises(ValueError, match="init must be"):
        plan(
            "cem", quadratic(torch.zeros(B, H, D)), B, H, FS, A, config("cem"), init=torch.zeros(B, H + 1, D)
        )


def test_unknown_planner_is_rejected():
    with pytest.raises(ValueError, match="unknown planner 'rrt'; expected one of cem, gd, mppi"):
        get_planner("rrt")


def test_planners_declare_what_they_need():
    assert get_planner("gd").needs_grad and not get_planner("cem").needs_grad and not get_planner("mppi").needs_grad


def test_plan_problem_checks_its_dims():
    with pytest.raises(ValueError, match="horizon must be >= 1"):
        PlanProblem(1, 0, FS, A)


def test_mppi_temperature_is_relative_to_the_cost_spread():
    """Scaling every cost by 1000 leaves MPPI's weights unchanged; +inf costs get weight 0."""
    from jepaworld.plan.mppi import path_weights

    cost = torch.tensor([[3.0, 5.0, 4.0, float("inf")], [1.0, 1.0, 1.0, 1.0]])
    w = path_weights(cost, 0.5)
    torch.testing.assert_close(w, path_weights(cost * 1000, 0.5))
    torch.testing.assert_close(w.sum(dim=1), torch.ones(2))
    assert w[0, 3] == 0 and w[0, 0] > w[0, 2] > w[0, 1]
    torch.testing.assert_close(w[1], torch.full((4,), 0.25))  # equal costs: uniform
