"""The rollout's fast path (model/fast_step.py) against the plain KV-cached step and full recompute."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from jepaworld.config import ConfigError, PlanConfig
from jepaworld.config.checks import validate
from jepaworld.config.planners import apply_planner_preset
from jepaworld.model.fast_step import FastStepper, stepper
from jepaworld.model.predictor import Predictor
from jepaworld.model.projector import Projector
from jepaworld.plan import PlanProblem, cem
from tests.test_model import FS, A, D, make_model, wake

pytestmark = pytest.mark.numerics  # fast paths against reference paths, within float32 rounding


def plain_steps(pred: Predictor, x: torch.Tensor, c: torch.Tensor) -> torch.Tensor:
    """Predictor.step token by token. x, c: (N, T, D) -> (N, T, D)."""
    cache, out = None, []
    for t in range(x.shape[1]):
        y, cache = pred.step(x[:, t], c[:, t], cache, t)
        out.append(y)
    return torch.stack(out, dim=1)


@pytest.mark.parametrize("window", [1, 2, 3, 5])
def test_fast_step_equals_plain_step_and_full_recompute(window):
    torch.manual_seed(0)
    pred = wake(Predictor(D, 3, 2, 8, 64, 0.0, window=window)).eval()
    x, c = torch.randn(4, 7, D), torch.randn(4, 7, D)
    with torch.no_grad():
        full, plain = pred(x, c), plain_steps(pred, x, c)
        fast = FastStepper(pred, "fp32")
        mods = pred.modulations(c)  # (N, T, depth, 6D)
        cache, out = None, []
        for t in range(7):
            y, cache = fast.step(x[:, None, t], mods[:, None, t], cache, t)  # B = 4 rows, S = 1
            assert all(len(layer) == min(t + 1, window - 1) for layer in cache)
            out.append(y[:, 0])
    out = torch.stack(out, dim=1)
    torch.testing.assert_close(out, plain, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out, full, rtol=1e-5, atol=1e-5)


def test_shared_rows_broadcast_over_candidates():
    """Prefix tokens on B rows, then S candidates each: same as every candidate run on its own row."""
    torch.manual_seed(1)
    pred = wake(Predictor(D, 2, 2, 8, 64, 0.0, window=3)).eval()
    B, S, P, T = 2, 5, 2, 4  # P shared prefix tokens, T candidate tokens
    prefix_x, prefix_c = torch.randn(B, P, D), torch.randn(B, P, D)
    x, c = torch.randn(B, S, T, D), torch.randn(B, S, T, D)
    with torch.no_grad():
        fast = FastStepper(pred, "fp32")
        cache = None
        pm = pred.modulations(prefix_c)
        for t in range(P):
            _, cache = fast.step(prefix_x[:, None, t], pm[:, None, t], cache, t)
        mods = pred.modulations(c)
        out = []
        for t in range(T):
            y, cache = fast.step(x[:, :, t], mods[:, :, t], cache, P + t)
            out.append(y)
        out = torch.stack(out, dim=2)  # (B, S, T, D)
        seq_x = torch.cat([prefix_x[:, None].expand(B, S, P, D), x], dim=2).reshape(B * S, P + T, D)
        seq_c = torch.cat([prefix_c[:, None].expand(B, S, P, D), c], dim=2).reshape(B * S, P + T, D)
        ref = pred(seq_x, seq_c)[:, P:].reshape(B, S, T, D)
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_stepper_is_kept_and_refreshed_when_a_weight_changes():
    pred = wake(Predictor(D, 2, 2, 8, 64, 0.0, window=2)).eval()
    x, c = torch.randn(3, 1, D), torch.randn(3, 1, D)
    with torch.no_grad():
        first = stepper(pred, "fp32")
        assert stepper(pred, "fp32") is first
        assert stepper(pred, "bf16") is not first
        before = first.step(x, pred.modulations(c), None, 0)[0]
        pred.blocks[0].mlp[0].weight.mul_(2.0)
        second = stepper(pred, "fp32")
        assert second is not first
        after = second.step(x, pred.modulations(c), None, 0)[0]
    assert not torch.allclose(before, after)
    torch.testing.assert_close(after, pred(x, c)[:, 0:1].detach(), rtol=1e-5, atol=1e-5)


def test_projector_with_batchnorm_folded_equals_the_module():
    torch.manual_seed(2)
    proj = Projector(D, 48, D)
    proj.train()
    for _ in range(3):  # running statistics away from (0, 1)
        proj(torch.randn(64, D) * 3 + 1)
    proj.eval()
    pred = Predictor(D, 1, 2, 8, 64, 0.0, window=2)
    y = torch.randn(2, 5, D)
    with torch.no_grad():
        fast = FastStepper(pred, "fp32", proj)
        torch.testing.assert_close(fast.project(y), proj(y), rtol=1e-5, atol=1e-5)
        proj.train()  # batch statistics: the module itself runs
        torch.testing.assert_close(fast.project(y), proj(y))


def test_fast_step_refuses_learned_positions_and_unknown_precision():
    with pytest.raises(RuntimeError, match="rope"):
        FastStepper(Predictor(D, 1, 2, 8, 64, 0.0, window=2, pos_embedding="learned"), "fp32")
    with pytest.raises(ValueError, match="precision"):
        FastStepper(Predictor(D, 1, 2, 8, 64, 0.0, window=2), "fp16")


@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_bf16_cost_is_close_to_fp32(pos):
    wm = make_model(history=3, pos_embedding=pos)
    B, S, H = 2, 16, 4
    z_start, z_goal = torch.randn(B, 3, D), torch.randn(B, D)
    blocks, hist = torch.randn(B, S, H, FS * A), torch.randn(B, 2, FS * A)
    with torch.no_grad():
        fp32 = wm.cost(z_start, z_goal, blocks, hist_blocks=hist)
        bf16 = wm.cost(z_start, z_goal, blocks, hist_blocks=hist, precision="bf16")
    assert bf16.dtype == torch.float32 and not torch.equal(bf16, fp32)  # it did run in bf16
    torch.testing.assert_close(bf16, fp32, rtol=2e-2, atol=2e-2)


def test_bf16_plan_matches_fp32_plan_cost():
    """On a fixed problem the plan chosen under bf16, scored in fp32, costs what the fp32 plan costs."""
    wm = make_model(history=3, pos_embedding="rope")
    g = torch.Generator().manual_seed(0)
    z_start, z_goal = torch.randn(2, 3, D, generator=g), torch.randn(2, D, generator=g)
    problem = PlanProblem(2, 4, FS, A)
    cfg = PlanConfig(samples=64, elites=8, iterations=4, horizon=4)
    costs = {}
    for precision in ("fp32", "bf16"):

        def cost_fn(actions, precision=precision):
            return wm.cost(z_start, z_goal, actions, precision=precision)

        result = cem(cost_fn, problem, cfg, generator=torch.Generator().manual_seed(1))
        with torch.no_grad():  # every plan scored by the same fp32 cost
            costs[precision] = wm.cost(z_start, z_goal, result.actions[:, None])[:, 0]
    torch.testing.assert_close(costs["bf16"], costs["fp32"], rtol=0.05, atol=0.05)


def test_plan_precision_is_checked_and_described():
    with pytest.raises(ConfigError, match="plan.precision"):
        validate(PlanConfig(precision="fp16"))
    assert "bf16 rollout" in PlanConfig(precision="bf16").describe()
    assert "rollout" not in PlanConfig().describe()


def test_published_bf16_preset_is_the_published_planner_in_bf16():
    published = apply_planner_preset(PlanConfig(), "published")
    bf16 = apply_planner_preset(PlanConfig(), "published-bf16")
    assert bf16.precision == "bf16" and published.precision == "fp32"
    assert replace(bf16, precision="fp32") == published


def test_auto_precision_is_bf16_only_where_the_device_computes_it(monkeypatch):
    """plan.precision "auto": bf16 on a CPU with AVX512-BF16/AMX, fp32 on one without; fp32/bf16 as asked."""
    from jepaworld.plan import precision as P

    cpu = torch.device("cpu")
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "avx512f", "avx512_bf16"}))
    assert P.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "amx_bf16"}))
    assert P.resolve_precision("auto", cpu) == "bf16"
    monkeypatch.setattr(P, "cpu_flags", lambda: frozenset({"avx2", "avx512f"}))
    assert P.resolve_precision("auto", cpu) == "fp32"
    assert P.resolve_precision("bf16", cpu) == "bf16" and P.resolve_precision("fp32", cpu) == "fp32"
    with pytest.raises(ValueError, match="plan.precision"):
        P.resolve_precision("fp16", cpu)
    validate(PlanConfig(precision="auto"))  # a valid setting
