"""World model: encoder shapes, predictor causality / band / AdaLN-zero, KV-cached rollout, cost."""

from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from jepaworld.config.schema import ModelConfig
from jepaworld.model import WorldModel
from jepaworld.model.cnn import CNN
from jepaworld.model.predictor import Block, Predictor
from jepaworld.model.projector import Projector
from jepaworld.model.vit import ViT
from tests.reference_rollout import reference_cost, reference_rollout

A, FS, D = 2, 3, 32


def tiny_cfg(**kw) -> ModelConfig:
    base = dict(
        encoder="cnn", image_size=16, patch_size=4, enc_width=24, enc_depth=2, enc_heads=2,
        cnn_channels=[8, 16], embed_dim=D, proj_hidden=48, pred_depth=2, pred_heads=2,
        pred_head_dim=8, pred_mlp=64, pred_dropout=0.0, max_len=16,
    )  # fmt: skip
    base.update(kw)
    return ModelConfig(**base)


def wake(model: nn.Module, std: float = 0.2) -> nn.Module:
    """Give the zero-initialised AdaLN layers random weights so blocks are not the identity."""
    g = torch.Generator().manual_seed(123)
    for m in model.modules():
        if isinstance(m, Block):
            lin = m.adaln[1]
            lin.weight.data = torch.randn(lin.weight.shape, generator=g) * std
            lin.bias.data = torch.randn(lin.bias.shape, generator=g) * std
    return model


def make_model(history: int = 2, **kw) -> WorldModel:
    torch.manual_seed(0)
    return wake(WorldModel(tiny_cfg(**kw), A, FS, history)).eval()


# ----------------------------------------------------------------------------------- encoders
def test_cnn_shape():
    assert CNN([8, 16, 32], 24)(torch.randn(5, 3, 64, 64)).shape == (5, 24)
    assert CNN([8, 16], 24, image_size=32)(torch.randn(5, 3, 32, 32)).shape == (5, 24)
    assert CNN([8, 16], 24, image_size=32, pool="mean")(torch.randn(5, 3, 40, 40)).shape == (5, 24)
    with pytest.raises(ValueError, match="32-px"):
        CNN([8, 16], 24, image_size=32)(torch.randn(5, 3, 40, 40))


def test_cnn_depth_adds_residual_convolutions_at_each_resolution():
    shallow, deep = CNN([8, 16], 24, image_size=32), CNN([8, 16], 24, image_size=32, depth=3)
    convs = [m for m in deep.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [c.stride for c in convs] == [(2, 2), (1, 1), (1, 1)] * 2
    assert len(convs) == 3 * sum(isinstance(m, torch.nn.Conv2d) for m in shallow.modules())
    x = torch.randn(4, 3, 32, 32)
    assert deep(x).shape == shallow(x).shape == (4, 24)
    # a residual unit whose convolution is zero passes its input through unchanged
    unit = deep.stages[3]
    torch.nn.init.zeros_(unit.conv.weight)
    h = torch.randn(2, 8, 16, 16)
    unit.eval()
    assert torch.allclose(unit(h), h + torch.nn.functional.silu(unit.norm(torch.zeros_like(h))))


def test_vit_shape_two_resolutions():
    vit = ViT(image_size=32, patch_size=8, width=24, depth=2, heads=3)
    assert vit(torch.randn(2, 3, 32, 32)).shape == (2, 24)
    assert vit(torch.randn(2, 3, 56, 56)).shape == (2, 24)  # 7x7 grid interpolated from 4x4
    assert vit.position_embedding(4, 4) is vit.pos_embed


def test_projector_flattens_leading_dims():
    assert Projector(24, 48, 16)(torch.randn(3, 4, 24)).shape == (3, 4, 16)


@pytest.mark.parametrize("encoder", ["cnn", "vit"])
def test_encode_and_forward_shapes(encoder):
    wm = WorldModel(tiny_cfg(encoder=encoder), A, FS, history=2)
    pixels = torch.randint(0, 256, (3, 4, 16, 16, 3), dtype=torch.uint8)
    out = wm(pixels, torch.randn(3, 4, FS * A))
    assert out["z"].shape == (3, 4, D)
    assert out["z_hat"].shape == (3, 3, D)
    assert wm.encode(pixels[:, 0]).shape == (3, D)  # any leading dims
    with pytest.raises(ValueError, match="uint8"):
        wm.encode(pixels.float())
    with pytest.raises(ValueError, match="frameskip"):
        wm.predict(out["z"], torch.randn(3, 4, 5))


def test_num_params_breakdown():
    n = WorldModel(tiny_cfg(), A, FS, 2).num_params()
    assert n["total"] == sum(v for k, v in n.items() if k != "total") > 0


# ---------------------------------------------------------------------------------- predictor
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_predict_is_causal(pos):
    wm = make_model(history=3, pos_embedding=pos)
    z, a = torch.randn(2, 6, D), torch.randn(2, 6, FS * A)
    ref = wm.predict(z, a)
    for k in range(1, 6):
        z2, a2 = z.clone(), a.clone()
        z2[:, k:] += torch.randn(D)
        a2[:, k:] += 1.0
        out = wm.predict(z2, a2)
        torch.testing.assert_close(out[:, :k], ref[:, :k])
        assert not torch.allclose(out[:, k], ref[:, k])


@pytest.mark.parametrize("window", [1, 2, 3])
def test_attention_band(window):
    """One layer: token t sees tokens t-window+1 .. t only. Depth L: receptive field L*(window-1)."""
    for depth in (1, 2):
        torch.manual_seed(0)
        pred = wake(Predictor(D, depth, 2, 8, 64, 0.0, window=window)).eval()
        x, c = torch.randn(1, 8, D), torch.randn(1, 8, D)
        ref = pred(x, c)
        x2 = x.clone()
        x2[:, 0] += torch.randn(D)
        out = pred(x2, c)
        reach = depth * (window - 1)  # the last token whose output token 0 can reach
        torch.testing.assert_close(out[:, reach + 1 :], ref[:, reach + 1 :])
        assert not torch.allclose(out[:, reach], ref[:, reach])


def test_adaln_zero_blocks_are_identity_at_init():
    block = Block(D, heads=2, head_dim=8, mlp=64, dropout=0.0, window=5)
    x, c = torch.randn(2, 5, D), torch.randn(2, 5, D)
    out, _ = block(x, block.adaln(c), None, None)
    torch.testing.assert_close(out, x, rtol=0, atol=0)


def test_learned_positions_max_len():
    wm = make_model(history=2, pos_embedding="learned", max_len=4)
    with pytest.raises(ValueError, match="max_len"):
        wm.predict(torch.randn(1, 5, D), torch.randn(1, 5, FS * A))


@pytest.mark.parametrize("window", [1, 2, 4])
def test_kv_cached_step_equals_full_recompute(window):
    torch.manual_seed(0)
    pred = wake(Predictor(D, 3, 2, 8, 64, 0.0, window=window)).eval()
    x, c = torch.randn(3, 9, D), torch.randn(3, 9, D)
    full = pred(x, c)
    cache = None
    for t in range(9):
        y, cache = pred.step(x[:, t], c[:, t], cache, t)
        assert all(k.shape[2] == min(t + 1, window - 1) for k, _ in cache)
        torch.testing.assert_close(y, full[:, t], rtol=1e-5, atol=1e-5)


def test_modulations_equal_each_blocks_adaln():
    torch.manual_seed(0)
    pred = wake(Predictor(D, 3, 2, 8, 64, 0.0, window=2))
    c = torch.randn(2, 4, D)
    mods = pred.modulations(c)
    assert mods.shape == (2, 4, 3, 6 * D)
    for i, block in enumerate(pred.blocks):
        torch.testing.assert_close(mods[:, :, i], block.adaln(c))
    with torch.inference_mode():  # without grad the stacked weights are cached ...
        torch.testing.assert_close(pred.modulations(c), mods.detach())
        with torch.no_grad():
            pred.blocks[1].adaln[1].weight.mul_(2.0)  # ... and refreshed when a weight changes
        torch.testing.assert_close(pred.modulations(c)[:, :, 1], pred.blocks[1].adaln(c))


def test_window_one_shortcut_equals_softmax_attention():
    """With window 1 a token's attention output is its value; the shortcut skips q, k and softmax."""
    torch.manual_seed(0)
    pred = wake(Predictor(D, 3, 2, 8, 64, 0.0, window=1)).eval()
    x, c = torch.randn(3, 6, D), torch.randn(3, 6, D)
    fast = pred(x, c)
    step = torch.stack([pred.step(x[:, t], c[:, t], None, t)[0] for t in range(6)], dim=1)
    for block in pred.blocks:
        block.attn.self_only = False  # full attention through the band mask
    torch.testing.assert_close(fast, pred(x, c), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(step, pred(x, c), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------ rollout, cost
@pytest.mark.parametrize("history", [1, 2, 3])
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_fast_rollout_equals_reference(history, pos):
    wm = make_model(history=history, pos_embedding=pos)
    z_hist, blocks = torch.randn(4, history, D), torch.randn(4, 6, FS * A)
    hist_blocks = torch.randn(4, history - 1, FS * A)
    with torch.no_grad():
        fast = wm.rollout(z_hist, blocks, hist_blocks)
        ref = reference_rollout(wm, z_hist, blocks, hist_blocks)
    assert fast.shape == (4, 6, D)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-5)


def test_rollout_first_step_matches_predict():
    wm = make_model(history=3)
    z, a = torch.randn(2, 3, D), torch.randn(2, 3, FS * A)
    with torch.no_grad():
        roll = wm.rollout(z, a[:, 2:], hist_blocks=a[:, :2])
    torch.testing.assert_close(roll[:, 0], wm.predict(z, a)[:, -1], rtol=1e-5, atol=1e-5)


def test_rollout_inference_mode_and_grad():
    wm = make_model(history=2)
    z_hist, blocks = torch.randn(2, 2, D), torch.randn(2, 3, FS * A, requires_grad=True)
    with torch.no_grad():
        out = wm.rollout(z_hist, blocks)
    assert not out.is_inference() and not out.requires_grad
    out += 1  # callers may modify the result in place
    wm.rollout(z_hist, blocks).square().sum().backward()  # gradient planner path
    assert blocks.grad is not None and blocks.grad.abs().sum() > 0


def float64_model(wm: WorldModel) -> WorldModel:
    """The same model in float64: the truth that float32 code paths approximate, each within its rounding."""
    return copy.deepcopy(wm).double()


@pytest.mark.numerics
def test_cost_shapes_and_modes():
    wm = make_model(history=2)
    B, S, H = 3, 5, 4
    z_start, z_goal = torch.randn(B, 2, D), torch.randn(B, D)
    blocks = torch.randn(B, S, H, FS * A)
    with torch.no_grad():
        terminal = wm.cost(z_start, z_goal, blocks, mode="terminal")
        best = wm.cost(z_start, z_goal, blocks, mode="min")
        reference = reference_cost(wm, z_start, z_goal, blocks)
        env1 = z_start[1:2].double().expand(S, -1, -1)
        roll = reference_rollout(float64_model(wm), env1, blocks[1].double())  # env 1
    assert terminal.shape == best.shape == (B, S)
    dist = (roll - z_goal[1].double()).square().sum(-1)  # (S, H)
    # float32 through H rollout steps: rounding relative to the largest cost (~64 here), not to each cost
    tol = dict(rtol=0.0, atol=1e-5 * float(dist.abs().max()))
    torch.testing.assert_close(terminal[1].double(), dist[:, -1], **tol)
    torch.testing.assert_close(best[1].double(), dist.min(-1).values, **tol)
    assert (best.double() <= terminal.double() + tol["atol"]).all()
    assert (best < terminal - tol["atol"]).any()  # min over the rollout is a different cost, not terminal again
    torch.testing.assert_close(reference[1].double(), dist[:, -1], **tol)
    with pytest.raises(ValueError, match="mode"):
        wm.cost(z_start, z_goal, blocks, mode="mean")


@pytest.mark.numerics
@pytest.mark.parametrize("history", [2, 3])
def test_cost_shares_the_history_prefix_exactly(history):
    """The cached cost computes the first h-1 history tokens once per env; same numbers as recompute."""
    wm = make_model(history=history, pos_embedding="rope")
    B, S, H = 2, 7, 4
    z_start, z_goal = torch.randn(B, history, D), torch.randn(B, D)
    blocks, hist = torch.randn(B, S, H, FS * A), torch.randn(B, history - 1, FS * A)
    with torch.no_grad():
        fast = wm.cost(z_start, z_goal, blocks, mode="min", hist_blocks=hist)
        ref = reference_cost(wm, z_start, z_goal, blocks, mode="min", hist_blocks=hist)
    torch.testing.assert_close(fast, ref, rtol=1e-5, atol=1e-4)


@pytest.mark.numerics
@pytest.mark.parametrize("history", [1, 2, 3])
@pytest.mark.parametrize("pos", ["rope", "learned"])
def test_cost_with_grad_equals_reference(history, pos):
    """The gradient planner's cost (the predictor's own modules, the history prefix shared) against recompute."""
    wm = make_model(history=history, pos_embedding=pos)
    B, S, H = 2, 5, 4
    z_start, z_goal = torch.randn(B, history, D), torch.randn(B, D)
    blocks, hist = torch.randn(B, S, H, FS * A, requires_grad=True), torch.randn(B, history - 1, FS * A)
    cost = wm.cost(z_start, z_goal, blocks, mode="min", hist_blocks=hist)
    cost.sum().backward()
    with torch.no_grad():
        ref = reference_cost(wm, z_start, z_goal, blocks, mode="min", hist_blocks=hist)
    assert cost.requires_grad and blocks.grad.abs().sum() > 0
    torch.testing.assert_close(cost.detach(), ref, rtol=1e-5, atol=1e-4)
