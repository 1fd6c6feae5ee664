"""Causal autoregressive predictor with AdaLN-zero action conditioning.

Tokens are latent embeddings z_t; each token is conditioned on the embedding c_t of the action
block taken after frame t, and its output predicts z_{t+1}. Attention is causal and banded: token
t sees tokens t - window + 1 .. t (window = history), so a prediction never depends on frames older
than the context the model was trained with.

Positions are either learned (absolute, as published) or rotary (RoPE, relative). With RoPE the
band makes an exact KV cache possible: `step` keeps the last window - 1 keys/values per layer and
costs one token per rollout step.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

KVCache = list[tuple[Tensor, Tensor]]  # per layer: keys, values (B, heads, <= window - 1, head_dim)


class Rotary(nn.Module):
    """Rotary position embedding tables. positions: (T,) -> cos, sin: (T, head_dim)."""

    inv_freq: Tensor  # buffer: (head_dim / 2,)

    def __init__(self, head_dim: int, base: float = 10000.0):
        super().__init__()
        inv_freq = 1.0 / base ** (torch.arange(0, head_dim, 2, dtype=torch.float32) / head_dim)
        self.register_buffer("inv_freq", inv_freq, persistent=False)

    def forward(self, positions: Tensor) -> tuple[Tensor, Tensor]:
        freqs = torch.outer(positions.float(), self.inv_freq)  # (T, head_dim / 2)
        emb = torch.cat([freqs, freqs], dim=-1)
        return emb.cos(), emb.sin()


def apply_rotary(x: Tensor, cos: Tensor, sin: Tensor) -> Tensor:
    """x: (B, heads, T, head_dim) rotated by position; cos, sin: (T, head_dim)."""
    x1, x2 = x.chunk(2, dim=-1)
    return x * cos.to(x.dtype) + torch.cat([-x2, x1], dim=-1) * sin.to(x.dtype)


def band_mask(T: int, window: int, device: torch.device) -> Tensor:
    """(T, T) bool, True where query i may attend key j: i - window < j <= i."""
    i = torch.arange(T, device=device)[:, None]
    j = torch.arange(T, device=device)[None, :]
    return (j <= i) & (j > i - window)


class Attention(nn.Module):
    """Multi-head attention with inner dim heads * head_dim (wider than the token width)."""

    def __init__(self, width: int, heads: int, head_dim: int, dropout: float, window: int):
        super().__init__()
        self.heads, self.head_dim, self.dropout = heads, head_dim, dropout
        self.self_only = window == 1  # each token attends only to itself
        self.qkv = nn.Linear(width, 3 * heads * head_dim)
        self.proj = nn.Linear(heads * head_dim, width)

    def forward(
        self,
        x: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        mask: Tensor | None,
        past: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """x: (B, T, width) -> (B, T, width), and this call's keys/values (past ones included).

        mask: (T, T_keys) bool or None (attend to every key: one token plus its cached window).
        With window 1 every token attends only to itself, so (without attention dropout) its output
        is its own value: queries, keys, rotation and softmax are skipped, an exact shortcut.
        """
        B, T, _ = x.shape
        p = self.dropout if self.training else 0.0
        if self.self_only and p == 0.0:
            inner = self.heads * self.head_dim
            v = F.linear(x, self.qkv.weight[2 * inner :], self.qkv.bias[2 * inner :])  # (B, T, inner)
            empty = v.new_zeros(B, self.heads, 0, self.head_dim)
            return self.proj(v), (empty, empty)
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        if rope is not None:
            q, k = apply_rotary(q, *rope), apply_rotary(k, *rope)
        if past is not None:
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        y = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)  # (B, heads, T, head_dim)
        return self.proj(y.transpose(1, 2).reshape(B, T, -1)), (k, v)


def modulate(x: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return x * (1 + scale) + shift


class Block(nn.Module):
    """AdaLN-zero transformer block. x: (B, T, width), mod: (B, T, 6 * width) -> (B, T, width).

    shift/scale/gate for attention and MLP (``mod``) come from a zero-initialised Linear on SiLU(c)
    (``self.adaln``; the predictor evaluates every block's at once), so the gates start at 0 and
    the block starts as the identity.
    """

    def __init__(self, width: int, heads: int, head_dim: int, mlp: int, dropout: float, window: int):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.attn = Attention(width, heads, head_dim, dropout, window)
        self.norm2 = nn.LayerNorm(width, elementwise_affine=False, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp), nn.GELU(), nn.Dropout(dropout), nn.Linear(mlp, width), nn.Dropout(dropout)
        )
        self.attn_drop = nn.Dropout(dropout)
        self.adaln = nn.Sequential(nn.SiLU(), nn.Linear(width, 6 * width))
        nn.init.zeros_(self.adaln_linear.weight)
        nn.init.zeros_(self.adaln_linear.bias)

    @property
    def adaln_linear(self) -> nn.Linear:
        """The AdaLN Linear (width -> 6 * width), ``adaln[1]``."""
        return cast(nn.Linear, self.adaln[1])

    def forward(
        self,
        x: Tensor,
        mod: Tensor,
        rope: tuple[Tensor, Tensor] | None,
        mask: Tensor | None,
        past: tuple[Tensor, Tensor] | None = None,
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        shift1, scale1, gate1, shift2, scale2, gate2 = mod.chunk(6, dim=-1)
        a, kv = self.attn(modulate(self.norm1(x), shift1, scale1), rope, mask, past)
        x = x + gate1 * self.attn_drop(a)
        x = x + gate2 * self.mlp(modulate(self.norm2(x), shift2, scale2))
        return x, kv


class Predictor(nn.Module):
    """Banded-causal transformer. x: (B, T, width), c: (B, T, width) -> (B, T, width).

    Output t is the (pre-projector) prediction of z_{t+1}; it depends on x and c at steps
    t - window + 1 .. t of every layer below (exactly like a full recompute).
    """

    def __init__(
        self,
        width: int,
        depth: int,
        heads: int,
        head_dim: int,
        mlp: int,
        dropout: float,
        window: int,
        pos_embedding: str = "rope",
        max_len: int = 32,
    ):
        super().__init__()
        if window < 1:
            raise ValueError(f"predictor window (history) must be >= 1, got {window}")
        if pos_embedding not in ("rope", "learned"):
            raise ValueError(f"pos_embedding must be 'rope' or 'learned', got {pos_embedding!r}")
        self.window, self.pos_embedding, self.max_len = window, pos_embedding, max_len
        if pos_embedding == "learned":
            self.pos_embed = nn.Parameter(torch.zeros(1, max_len, width))
            nn.init.trunc_normal_(self.pos_embed, std=0.02)
        else:
            self.rotary = Rotary(head_dim)
        self.blocks = nn.ModuleList(Block(width, heads, head_dim, mlp, dropout, window) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        for name, p in self.named_parameters():
            if p.dim() == 2 and "adaln" not in name and name != "pos_embed":
                nn.init.trunc_normal_(p, std=0.02)
            elif name.endswith("bias") and "adaln" not in name and not name.startswith("norm"):
                nn.init.zeros_(p)

    @property
    def typed_blocks(self) -> Sequence[Block]:
        """``blocks`` as Blocks (nn.ModuleList types its items as Module)."""
        return cast("Sequence[Block]", self.blocks)

    def modulations(self, c: Tensor) -> Tensor:
        """c: (..., width) -> (..., depth, 6 * width): every block's AdaLN output in one matmul."""
        weight, bias = self._stacked_adaln()
        return F.linear(F.silu(c), weight, bias).unflatten(-1, (len(self.blocks), -1))

    def _stacked_adaln(self) -> tuple[Tensor, Tensor]:
        """Every block's AdaLN weight (depth * 6 * width, width) and bias, stacked.

        Without grad the stack is kept until a parameter changes (tracked by storage and version
        counter), so a rollout does not copy the weights at every step.
        """
        params = [t for b in self.typed_blocks for t in (b.adaln_linear.weight, b.adaln_linear.bias)]
        if torch.is_grad_enabled():
            return torch.cat(params[0::2]), torch.cat(params[1::2])
        key = tuple((t.data_ptr(), t._version, t.device, t.dtype) for t in params)
        if getattr(self, "_adaln_key", None) != key:
            with torch.no_grad():
                self._adaln_stack = (torch.cat(params[0::2]), torch.cat(params[1::2]))
            self._adaln_key = key
        return self._adaln_stack

    def forward(self, x: Tensor, c: Tensor) -> Tensor:
        B, T, _ = x.shape
        rope = None
        if self.pos_embedding == "learned":
            if T > self.max_len:
                raise ValueError(
                    f"sequence of {T} tokens exceeds model.max_len={self.max_len}; raise max_len"
                )
            x = x + self.pos_embed[:, :T]
        else:
            rope = self.rotary(torch.arange(T, device=x.device))
        mask = band_mask(T, self.window, x.device)
        mods = self.modulations(c)  # (B, T, depth, 6 * width)
        for i, block in enumerate(self.blocks):
            x, _ = block(x, mods[:, :, i], rope, mask)
        return self.norm(x)

    def step(self, x_t: Tensor, c_t: Tensor, cache: KVCache | None, pos: int) -> tuple[Tensor, KVCache]:
        """One incremental token (RoPE only). x_t, c_t: (B, width) -> y_t: (B, width), new cache.

        `pos` is the token's index in the sequence; `cache` is None for the first token, then the
        value returned by the previous call. Equal to `forward` over the whole sequence at `pos`.
        """
        if self.pos_embedding != "rope":
            raise RuntimeError(
                "Predictor.step needs pos_embedding='rope' (learned positions recompute the window)"
            )
        rope = None if self.window == 1 else self.rotary(torch.tensor([pos], device=x_t.device))
        x, mods = x_t[:, None], self.modulations(c_t)[:, None]  # (B, 1, width), (B, 1, depth, 6 * width)
        keep = self.window - 1
        new_cache: KVCache = []
        for i, block in enumerate(self.blocks):
            x, (k, v) = block(x, mods[:, :, i], rope, None, None if cache is None else cache[i])
            start = max(k.shape[2] - keep, 0)
            new_cache.append((k[:, :, start:], v[:, :, start:]))
        return self.norm(x)[:, 0], new_cache
