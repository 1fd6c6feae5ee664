"""Vision Transformer encoder, from scratch (ViT-Tiny in the published recipe).

Patch embedding by a strided convolution, a learned [CLS] token, learned position embeddings on
the patch grid (bicubically interpolated when the input resolution differs from `image_size`),
pre-norm transformer blocks and a final LayerNorm. The output is the [CLS] token of the last layer.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class SelfAttention(nn.Module):
    """Multi-head self-attention over all tokens (no mask). x: (B, T, C) -> (B, T, C)."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        if width % heads != 0:
            raise ValueError(f"ViT width {width} must be divisible by the number of heads {heads}")
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x: Tensor) -> Tensor:
        B, T, C = x.shape
        q, k, v = self.qkv(x).view(B, T, 3, self.heads, C // self.heads).permute(2, 0, 3, 1, 4)
        y = F.scaled_dot_product_attention(q, k, v)  # (B, heads, T, C // heads)
        return self.proj(y.transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    """Pre-norm transformer block: x + attn(LN(x)), then x + MLP(LN(x)). x: (B, T, C)."""

    def __init__(self, width: int, heads: int, mlp_ratio: int = 4):
        super().__init__()
        self.norm1 = nn.LayerNorm(width, eps=1e-6)
        self.attn = SelfAttention(width, heads)
        self.norm2 = nn.LayerNorm(width, eps=1e-6)
        self.mlp = nn.Sequential(
            nn.Linear(width, mlp_ratio * width), nn.GELU(), nn.Linear(mlp_ratio * width, width)
        )

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class ViT(nn.Module):
    """ViT encoder. images: float (B, 3, H, W) -> [CLS] embedding (B, width).

    Position embeddings are learned for an `image_size` / `patch_size` grid and interpolated to
    the grid of the actual input, so the same weights run at other resolutions.
    """

    def __init__(self, image_size: int, patch_size: int, width: int, depth: int, heads: int):
        super().__init__()
        self.patch_size = patch_size
        self.grid = image_size // patch_size
        self.patch_embed = nn.Conv2d(3, width, kernel_size=patch_size, stride=patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width))
        self.pos_embed = nn.Parameter(torch.zeros(1, 1 + self.grid * self.grid, width))
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(depth))
        self.norm = nn.LayerNorm(width, eps=1e-6)
        self.apply(_init_weights)
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)

    def position_embedding(self, gh: int, gw: int) -> Tensor:
        """Position embeddings for a (gh, gw) patch grid: (1, 1 + gh * gw, width)."""
        if (gh, gw) == (self.grid, self.grid):
            return self.pos_embed
        cls_pos, grid_pos = self.pos_embed[:, :1], self.pos_embed[:, 1:]
        C = grid_pos.shape[-1]
        grid_pos = grid_pos.reshape(1, self.grid, self.grid, C).permute(0, 3, 1, 2)
        grid_pos = F.interpolate(grid_pos, size=(gh, gw), mode="bicubic", align_corners=False)
        return torch.cat([cls_pos, grid_pos.permute(0, 2, 3, 1).reshape(1, gh * gw, C)], dim=1)

    def forward(self, images: Tensor) -> Tensor:
        x = self.patch_embed(images)  # (B, width, gh, gw)
        B, C, gh, gw = x.shape
        if gh == 0 or gw == 0:
            raise ValueError(
                f"image {tuple(images.shape[-2:])} is smaller than one {self.patch_size}-px patch"
            )
        x = x.flatten(2).transpose(1, 2)  # (B, gh * gw, width)
        x = torch.cat([self.cls_token.expand(B, -1, -1), x], dim=1) + self.position_embedding(gh, gw)
        for block in self.blocks:
            x = block(x)
        return self.norm(x)[:, 0]


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        nn.init.zeros_(module.bias)
