"""CEM specifics: the mean is kept as candidate 0 and the best candidate seen is returned."""

import pytest
import torch

from jepaworld.config.schema import PlanConfig
from jepaworld.plan import PlanProblem, cem

B, H, FS, A = 2, 3, 5, 2
D = FS * A
PROBLEM = PlanProblem(B, H, FS, A)


def recording_quadratic(target: torch.Tensor):
    """||actions - target||^2 that records every (candidates, cost) it is called with."""
    calls = []

    def cost_fn(actions):
        cost = ((actions - target.unsqueeze(1)) ** 2).sum(dim=(-1, -2))
        calls.append((actions.clone(), cost.clone()))
        return cost

    return cost_fn, calls


@pytest.mark.numerics
def test_mean_is_candidate_zero_and_refit_from_elites():
    target = torch.randn(B, H, D, generator=torch.Generator().manual_seed(0))
    init = torch.randn(B, H, D, generator=torch.Generator().manual_seed(1))
    cost_fn, calls = recording_quadratic(target)
    cfg = PlanConfig(samples=50, elites=5, iterations=6, noise="iid")
    result = cem(cost_fn, PROBLEM, cfg, init=init, generator=torch.Generator().manual_seed(2))
    assert len(calls) == cfg.iterations
    assert torch.equal(calls[0][0][:, 0], init)
    means = []  # the elites' mean in float64: the truth any float32 reduction order approximates
    for candidates, cost in calls:
        idx = cost.topk(cfg.elites, dim=1, largest=False).indices
        means.append(torch.stack([candidates[b, idx[b]].double().mean(dim=0) for b in range(B)]))
    # a float32 mean of n elites, in any order, is off by at most ~n roundings of the largest value (not of each
    # entry: entries near 0 have no relative precision to keep)
    eps = torch.finfo(torch.float32).eps
    tol = dict(rtol=0.0, atol=(cfg.elites + 1) * eps * max(float(c.abs().max()) for c, _ in calls))
    for k in range(1, len(calls)):
        torch.testing.assert_close(calls[k][0][:, 0].double(), means[k - 1], **tol)
    torch.testing.assert_close(result.mean.double(), means[-1], **tol)


@pytest.mark.numerics
def test_returns_the_best_candidate_ever_evaluated():
    target = torch.randn(B, H, D, generator=torch.Generator().manual_seed(3))
    cost_fn, calls = recording_quadratic(target)
    cfg = PlanConfig(samples=40, elites=4, iterations=8)
    result = cem(cost_fn, PROBLEM, cfg, generator=torch.Generator().manual_seed(4))
    every_cost = torch.cat([cost for _, cost in calls], dim=1)  # (B, iterations * samples)
    assert torch.equal(result.cost, every_cost.amin(dim=1))
    assert torch.equal(result.costs, torch.stack([cost.amin(dim=1) for _, cost in calls], dim=1))
    # the plan kept is never worse than the starting mean, and search made progress
    zero_plan = (target**2).sum(dim=(-1, -2))
    assert (result.cost <= result.costs[:, 0]).all() and (result.costs[:, 0] <= zero_plan).all()
    assert (result.costs[:, -1] < result.costs[:, 0]).all()


def test_std_collapses_without_floor_and_not_with_one():
    target = torch.zeros(B, H, D)
    cfg = PlanConfig(samples=30, elites=3, iterations=15, noise="iid")
    spread = {}
    for min_std in (0.0, 0.5):
        cost_fn, calls = recording_quadratic(target)
        cem(cost_fn, PROBLEM, cfg, generator=torch.Generator().manual_seed(5), min_std=min_std)
        spread[min_std] = calls[-1][0].std(dim=1).mean()  # samples around the last mean
    assert spread[0.0] < 0.05 and spread[0.5] > 0.3


@pytest.mark.numerics
def test_kept_elites_are_the_next_iterations_candidates_and_never_lost():
    """iCEM's keep_elites = k: candidates 1..k of iteration i+1 are the k cheapest of iteration i, so
    the cheapest cost seen can only fall from one iteration to the next."""
    target = torch.randn(B, H, D, generator=torch.Generator().manual_seed(0))
    cost_fn, calls = recording_quadratic(target)
    cfg = PlanConfig(samples=20, elites=4, iterations=5, noise="colored", keep_elites=3)
    result = cem(cost_fn, PROBLEM, cfg, generator=torch.Generator().manual_seed(2))
    assert all(c.shape[:2] == (B, cfg.samples) for c, _ in calls)
    for (prev, prev_cost), (cur, cur_cost) in zip(calls, calls[1:], strict=False):
        idx = prev_cost.topk(3, dim=1, largest=False).indices
        for b in range(B):
            assert torch.equal(cur[b, 1:4], prev[b, idx[b]])
        scale = 1e-5 * float(prev_cost.abs().max())
        assert (cur_cost.amin(1) <= prev_cost.amin(1) + scale).all()
    assert torch.allclose(result.cost, torch.stack([c.amin(1) for _, c in calls]).amin(0))
