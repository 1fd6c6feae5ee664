"""Small convolutional encoder for low-resolution frames (the CPU recipe, 64 px).

Each stage halves the resolution: Conv2d(3x3, stride 2) -> BatchNorm2d (or GroupNorm) -> SiLU.
Global average pooling and a Linear layer give the embedding. BatchNorm is the default because it
is the fastest on CPU (it folds into the convolution's memory pass); GroupNorm makes the encoder
independent of the batch.
"""

from __future__ import annotations

from torch import Tensor, nn


class CNN(nn.Module):
    """CNN encoder. images: float (B, 3, H, W) -> (B, width).

    channels: output channels of each stride-2 stage, e.g. [32, 64, 128, 256] (64 px -> 4 px).
    norm: "batch" or "group" (8 groups).
    """

    def __init__(self, channels: list[int], width: int, norm: str = "batch"):
        super().__init__()
        if not channels:
            raise ValueError("cnn_channels must list at least one stage, e.g. [32, 64, 128, 256]")
        if norm not in ("batch", "group"):
            raise ValueError(f"CNN norm must be 'batch' or 'group', got {norm!r}")
        layers: list[nn.Module] = []
        c_in = 3
        for c in channels:
            layers += [
                nn.Conv2d(c_in, c, kernel_size=3, stride=2, padding=1, bias=False),
                nn.BatchNorm2d(c) if norm == "batch" else nn.GroupNorm(min(8, c), c),
                nn.SiLU(),
            ]
            c_in = c
        self.stages = nn.Sequential(*layers)
        self.head = nn.Linear(c_in, width)

    def forward(self, images: Tensor) -> Tensor:
        return self.head(self.stages(images).mean(dim=(2, 3)))
