"""Small convolutional encoder for low-resolution frames (the CPU recipe, 64 px).

Each stage halves the resolution: Conv2d(3x3, stride 2) -> BatchNorm2d -> SiLU, then ``depth - 1``
residual units x + SiLU(BatchNorm2d(Conv2d(3x3)(x))) at that resolution (more receptive field per
stage; on Push-T, depth 2 did not make the block's angle readable and halved training speed: docs/results/pusht.md).
The last feature map is flattened (``pool="flatten"``, default) or averaged (``pool="mean"``) and a
Linear layer gives the embedding. Flattening keeps *where* things are: global average pooling
makes a CNN nearly translation-invariant, and a position-blind encoder gives the planner a latent
distance that stops growing a few object widths away (measured on Two-Room).
"""

from __future__ import annotations

from torch import Tensor, nn


class CNN(nn.Module):
    """CNN encoder. images: float (B, 3, H, W) -> (B, width).

    channels: output channels of each stride-2 stage, e.g. [16, 32, 64, 128] (64 px -> 4 px).
    image_size: input side (needed to size the flattening head).
    pool: "flatten" or "mean".
    depth: convolutions per stage (the stride-2 one and depth - 1 residual ones).
    """

    def __init__(
        self, channels: list[int], width: int, image_size: int = 64, pool: str = "flatten", depth: int = 1
    ):
        super().__init__()
        if not channels:
            raise ValueError("cnn_channels must list at least one stage, e.g. [16, 32, 64, 128]")
        if pool not in ("flatten", "mean"):
            raise ValueError(f"CNN pool must be 'flatten' or 'mean', got {pool!r}")
        layers: list[nn.Module] = []
        c_in, side = 3, image_size
        for c in channels:
            layers += [
                nn.Conv2d(c_in, c, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c),
                nn.SiLU(),
            ]
            layers += [Residual(c) for _ in range(depth - 1)]
            c_in, side = c, (side + 1) // 2
        self.stages = nn.Sequential(*layers)
        self.pool, self.image_size = pool, image_size
        self.head = nn.Linear(c_in * side * side if pool == "flatten" else c_in, width)

    def forward(self, images: Tensor) -> Tensor:
        if self.pool == "flatten" and images.shape[-1] != self.image_size:
            raise ValueError(
                f"this CNN encoder flattens its last feature map and needs {self.image_size}-px frames, "
                f"got {images.shape[-2]}x{images.shape[-1]}; set model.image_size or model.cnn_pool=mean"
            )
        x = self.stages(images)
        return self.head(x.flatten(1) if self.pool == "flatten" else x.mean(dim=(2, 3)))


class Residual(nn.Module):
    """x: (B, C, H, W) -> x + SiLU(BatchNorm2d(Conv2d(3x3, stride 1)(x)))."""

    def __init__(self, channels: int):
        super().__init__()
        self.conv = nn.Conv2d(channels, channels, kernel_size=3, padding=1, bias=False)
        self.norm = nn.BatchNorm2d(channels)
        self.act = nn.SiLU()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.act(self.norm(self.conv(x)))
