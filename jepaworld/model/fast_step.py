"""The rollout's fast path: one predictor token per step for many candidate plans, no autograd.

It computes what ``Predictor.step`` computes (tests hold the two equal), rearranged for planning,
where S candidate plans per environment each take one token per step:

- RoPE folded into the weights. At position p the rotated queries and keys are
  R_p (W x + b) = (R_p W) x + R_p b, so one qkv weight per position (built once, kept until a
  parameter changes; 14 MB per position in fp32 at published dims, 7 positions for history 3 and
  horizon 5) replaces the rotation's elementwise work. The softmax scale 1/sqrt(head_dim)
  is folded into the query rows.
- No key/value copies. A token's keys and values are views into its own qkv output; a layer's
  cache is the list of the last ``window - 1`` of them (a ring of views, nothing concatenated).
  Attention of one query over at most ``window`` keys is a few elementwise products and a softmax
  over ``window`` scores per head (no padding, no mask, no SDPA call for 1 x window scores).
- Shared rows. Tokens common to all candidates of an environment (the history prefix) run on B
  rows; their keys and values stay (B, 1, heads, head_dim) and broadcast over the S candidates.
- The prediction projector's BatchNorm (running statistics) folded into its first Linear.
- precision "bf16": every matmul (AdaLN modulations, blocks, projector) and the attention in
  bfloat16 (weights cast once, kept with the folded ones); the residual stream, the LayerNorms and
  the softmax stay float32. Off unless asked for (``PlanConfig.precision``; "auto" asks for it where
  the device computes bfloat16 natively, `plan/precision.py`).

Shapes: tokens x (B, S, width) with S = 1 for shared tokens; modulations (B, S, depth, 6 * width).
"""

from __future__ import annotations

from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from jepaworld.model.predictor import Predictor, apply_rotary
from jepaworld.model.projector import Projector

PRECISIONS = {"fp32": torch.float32, "bf16": torch.bfloat16}

StepCache = list[list[tuple[Tensor, Tensor]]]  # per layer: [(keys, values)] oldest first, each (B, S|1, heads, hd)


class FastStepper:
    """Runs ``Predictor`` one token at a time on folded, pre-cast weights (see the module docstring).

    Build it under no-grad; ``step`` is valid for RoPE predictors (learned positions recompute their
    window and never take a cached step).
    """

    def __init__(self, predictor: Predictor, precision: str = "fp32", projector: Projector | None = None):
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {sorted(PRECISIONS)}, got {precision!r}")
        if predictor.pos_embedding != "rope":
            raise RuntimeError("the cached rollout needs pos_embedding='rope'")
        self.pred, self.dtype = predictor, PRECISIONS[precision]
        attn = predictor.typed_blocks[0].attn
        self.heads, self.head_dim, self.inner = attn.heads, attn.head_dim, attn.heads * attn.head_dim
        self.window, self.width = predictor.window, predictor.norm.normalized_shape[0]
        self.weights = _Weights(predictor, self.dtype)
        self.projector = projector
        if projector is not None:
            self.proj_weights = _fold_batchnorm(projector, self.dtype)

    def modulations(self, c: Tensor) -> Tensor:
        """Every block's AdaLN output in the rollout dtype: c (..., width) -> (..., depth, 6 * width)."""
        weight, bias = self.weights.adaln
        return F.linear(F.silu(c).to(self.dtype), weight, bias).unflatten(-1, (len(self.weights.blocks), -1))

    def project(self, y: Tensor) -> Tensor:
        """The prediction projector on y (..., width) -> float32 (..., D); its BatchNorm (running
        statistics) folded into the first Linear. In training mode the module itself runs."""
        if self.projector is None:
            raise RuntimeError("this FastStepper was built without a projector")
        if self.projector.training:
            return self.projector(y)
        w1, b1, w2, b2 = self.proj_weights
        return F.linear(F.gelu(F.linear(y.to(self.dtype), w1, b1)), w2, b2).float()

    def step(self, x: Tensor, mods: Tensor, cache: StepCache | None, pos: int) -> tuple[Tensor, StepCache]:
        """One token at position ``pos`` for every row. x: (B, S, width), mods: (B, S, depth, 6 * width).

        Returns the predictor's output (B, S, width) (after its final norm) and the cache for the
        next step (the last ``window - 1`` tokens' keys and values per layer).
        """
        B, S, W = x.shape
        w = self.weights
        qkv_w = w.qkv_at(pos) if self.window > 1 else []
        new_cache: StepCache = []
        for i, block in enumerate(w.blocks):
            shift1, scale1, gate1, shift2, scale2, gate2 = mods[:, :, i].chunk(6, dim=-1)
            h = _modulate(F.layer_norm(x, (W,), eps=1e-6), shift1, scale1).to(self.dtype)
            if self.window == 1:  # each token attends only to itself: its output is its value
                a = F.linear(h, block.v_weight, block.v_bias)
                past: list[tuple[Tensor, Tensor]] = []
            else:
                qkv = F.linear(h, *qkv_w[i]).view(B, S, 3, self.heads, self.head_dim)
                q, k, v = qkv.unbind(2)
                past = ([] if cache is None else cache[i]) + [(k, v)]
                a = _attend(q, past).reshape(B, S, self.inner)
                past = past[1:] if len(past) >= self.window else past
            new_cache.append(past)
            x = torch.addcmul(x, gate1, F.linear(a, block.proj_weight, block.proj_bias).float())
            h = _modulate(F.layer_norm(x, (W,), eps=1e-6), shift2, scale2).to(self.dtype)
            m = F.linear(F.gelu(F.linear(h, block.fc1_weight, block.fc1_bias)), block.fc2_weight, block.fc2_bias)
            x = torch.addcmul(x, gate2, m.float())
        norm = self.pred.norm
        return F.layer_norm(x, (W,), norm.weight, norm.bias, norm.eps), new_cache


def _modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return torch.addcmul(shift, x, 1 + scale)


def _attend(q: Tensor, past: list[tuple[Tensor, Tensor]]) -> Tensor:
    """Softmax attention of one query per row over the given keys. q: (B, S, heads, hd) (scaled);
    past: [(k, v)] with k, v (B, S or 1, heads, hd) -> (B, S, heads, hd)."""
    # keys first: a softmax over the leading dim runs along contiguous memory (~20x faster than over
    # a last dim of 2-3 entries)
    scores = torch.stack([(q * k).sum(-1, dtype=torch.float32) for k, _ in past])  # (n, B, S, heads)
    p = scores.softmax(dim=0).to(q.dtype).unsqueeze(-1)
    out = past[0][1] * p[0]
    for j in range(1, len(past)):
        out = torch.addcmul(out, past[j][1], p[j])
    return out


class _BlockWeights:
    """One block's projection weights in the rollout dtype (qkv per position lives in `_Weights`)."""

    def __init__(self, block, dtype: torch.dtype):
        inner = block.attn.heads * block.attn.head_dim
        cast = lambda t: t.detach().to(dtype).contiguous()
        self.v_weight, self.v_bias = cast(block.attn.qkv.weight[2 * inner :]), cast(block.attn.qkv.bias[2 * inner :])
        self.proj_weight, self.proj_bias = cast(block.attn.proj.weight), cast(block.attn.proj.bias)
        fc1, fc2 = block.mlp[0], block.mlp[3]
        self.fc1_weight, self.fc1_bias = cast(fc1.weight), cast(fc1.bias)
        self.fc2_weight, self.fc2_bias = cast(fc2.weight), cast(fc2.bias)


class _Weights:
    """Every block's weights in one dtype, and the RoPE-folded qkv weights per position (lazily)."""

    def __init__(self, predictor: Predictor, dtype: torch.dtype):
        self.pred, self.dtype = predictor, dtype
        self.blocks = [_BlockWeights(b, dtype) for b in predictor.blocks]
        self.adaln = tuple(t.to(dtype) for t in predictor._stacked_adaln())
        self._qkv: dict[int, list[tuple[Tensor, Tensor]]] = {}

    def qkv_at(self, pos: int) -> list[tuple[Tensor, Tensor]]:
        """Per block: (weight (3 * inner, width), bias) with queries and keys rotated to ``pos``."""
        if pos not in self._qkv:
            cos, sin = self.pred.rotary(torch.tensor([pos], device=self.pred.norm.weight.device))  # (1, hd)
            self._qkv[pos] = [_fold_rope(b.attn, cos, sin, self.dtype) for b in self.pred.typed_blocks]
        return self._qkv[pos]


def _fold_rope(attn, cos: Tensor, sin: Tensor, dtype: torch.dtype) -> tuple[Tensor, Tensor]:
    """qkv weight and bias with R_pos applied to the query and key rows, queries scaled by hd^-1/2."""
    heads, hd = attn.heads, attn.head_dim
    w = attn.qkv.weight.detach().float().view(3, heads, hd, -1)  # (3, heads, hd, width)
    b = attn.qkv.bias.detach().float().view(3, heads, hd)
    # apply_rotary rotates the last dim: move hd last, rotate, move it back
    w_qk = apply_rotary(w[:2].transpose(-1, -2), cos, sin).transpose(-1, -2)  # (2, heads, hd, width)
    b_qk = apply_rotary(b[:2, :, None], cos, sin)[:, :, 0]  # (2, heads, hd)
    scale = torch.tensor([hd**-0.5, 1.0], device=w.device).view(2, 1, 1)
    w = torch.cat([w_qk * scale[..., None], w[2:]]).reshape(3 * heads * hd, -1)
    b = torch.cat([b_qk * scale, b[2:]]).reshape(-1)
    return w.to(dtype).contiguous(), b.to(dtype).contiguous()


def _fold_batchnorm(projector: Projector, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Linear -> BatchNorm1d (eval) -> GELU -> Linear as (w1, b1, w2, b2) with the norm in w1, b1."""
    fc1, bn, _, fc2 = cast(tuple[nn.Linear, nn.BatchNorm1d, nn.Module, nn.Linear], tuple(projector.net))
    if bn.running_var is None or bn.running_mean is None:
        raise RuntimeError("the projector's BatchNorm1d has no running statistics (track_running_stats=False)")
    s = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    w1, b1 = fc1.weight * s[:, None], (fc1.bias - bn.running_mean) * s + bn.bias
    w1, b1, w2, b2 = (t.detach().to(dtype).contiguous() for t in (w1, b1, fc2.weight, fc2.bias))
    return w1, b1, w2, b2


def stepper(predictor: Predictor, precision: str, projector: Projector | None = None) -> FastStepper:
    """The ``FastStepper`` of a predictor (and its projector) for ``precision``, kept on the predictor
    until any parameter or buffer of either changes (storage or version counter)."""
    tensors: list[Tensor] = [*predictor.parameters()]
    if projector is not None:
        tensors += [*projector.parameters(), *projector.buffers()]
    key = (precision, id(projector), tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in tensors))
    kept: dict = predictor.__dict__.setdefault("_fast_steppers", {})
    if kept.get(precision, (None,))[0] != key:
        with torch.no_grad():
            kept[precision] = (key, FastStepper(predictor, precision, projector))
    return kept[precision][1]
