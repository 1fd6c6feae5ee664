"""The fast loop: a small MLP pi(z_t, z_goal) -> one normalised action block, on frozen embeddings.

    net = PolicyNet(embed_dim=192, block_dim=10, seed=0)  # fs * A outputs, z-scored like the planner's
    block = net.act(z, z_goal)                            # (B, D), (B, D) -> (B, fs*A), clipped to the box
    save_policy(net, RUN / "agent", info); net, info = load_policy(RUN / "agent")

The inputs are the current and goal embeddings and their difference, each standardised with the
embedding statistics of the data it was fitted on (kept as buffers, saved with the weights).
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from jepaworld.atomic import atomic_path
from jepaworld.config import write_json
from jepaworld.errors import JepaworldError

WEIGHTS, INFO = "policy.safetensors", "policy.json"


class PolicyNet(nn.Module):
    """MLP over [z, z_goal, z_goal - z] (standardised) -> a normalised action block (fs * A).

    The initial weights are those of ``nn.Linear`` (uniform within 1 / sqrt(fan_in)), drawn from a generator
    seeded with ``seed``: the same net whatever torch's global random state (which it leaves alone).
    """

    z_mean: Tensor  # buffers: the embeddings' mean and std (D,), the std of z_goal - z (D,)
    z_std: Tensor
    d_std: Tensor
    lo: Tensor  # the action box, normalised (fs*A,)
    hi: Tensor

    def __init__(self, embed_dim: int, block_dim: int, hidden: int = 256, depth: int = 2, seed: int = 0) -> None:
        super().__init__()
        self.embed_dim, self.block_dim, self.hidden, self.depth = embed_dim, block_dim, hidden, depth
        g = torch.Generator().manual_seed(seed)
        layers: list[nn.Module] = []
        width = 3 * embed_dim
        for out in [hidden] * depth + [block_dim]:
            linear = nn.utils.skip_init(nn.Linear, width, out)  # no draw from the global generator
            bound = 1 / math.sqrt(width)
            with torch.no_grad():
                linear.weight.uniform_(-bound, bound, generator=g)
                linear.bias.uniform_(-bound, bound, generator=g)
            layers += [linear, nn.GELU()]
            width = out
        self.net = nn.Sequential(*layers[:-1])  # no activation after the last layer
        self.register_buffer("z_mean", torch.zeros(embed_dim))
        self.register_buffer("z_std", torch.ones(embed_dim))
        self.register_buffer("d_std", torch.ones(embed_dim))  # of z_goal - z
        self.register_buffer("lo", torch.full((block_dim,), -float("inf")))  # the action box, normalised
        self.register_buffer("hi", torch.full((block_dim,), float("inf")))

    def set_statistics(self, z: Tensor, diff: Tensor, lo: Tensor, hi: Tensor) -> None:
        """Input standardisation from embeddings z (N, D) and goal differences (N, D); the box (fs*A,)."""
        self.z_mean.copy_(z.mean(0))
        self.z_std.copy_(z.std(0).clamp_min(1e-6))
        self.d_std.copy_(diff.std(0).clamp_min(1e-6))
        self.lo.copy_(lo)
        self.hi.copy_(hi)

    def forward(self, z: Tensor, z_goal: Tensor) -> Tensor:
        """z, z_goal (B, D) -> unclipped block (B, fs*A) (what training regresses)."""
        x = torch.cat([(z - self.z_mean) / self.z_std, (z_goal - self.z_mean) / self.z_std,
                       (z_goal - z) / self.d_std], dim=-1)  # fmt: skip
        return self.net(x)

    @torch.no_grad()
    def act(self, z: Tensor, z_goal: Tensor) -> Tensor:
        """z, z_goal (B, D) -> normalised block (B, fs*A) clipped to the action box."""
        return torch.maximum(torch.minimum(self(z, z_goal), self.hi), self.lo)


def save_policy(policy: PolicyNet, folder: str | Path, info: dict[str, Any], name: str = "policy") -> Path:
    """Write ``FOLDER/<name>.safetensors`` and ``<name>.json`` (architecture + ``info``), each atomically."""
    folder = Path(folder)
    weights = folder / f"{name}.safetensors"
    with atomic_path(weights) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}, str(tmp))
    arch = {"embed_dim": policy.embed_dim, "block_dim": policy.block_dim, "hidden": policy.hidden,
            "depth": policy.depth}  # fmt: skip
    write_json(folder / f"{name}.json", {"architecture": arch, **info})
    return weights


def load_policy(folder: str | Path, name: str = "policy", device: str | torch.device = "cpu"
                ) -> tuple[PolicyNet, dict[str, Any]]:  # fmt: skip
    """Read what ``save_policy`` wrote -> (policy in eval mode, its info dict)."""
    folder = Path(folder)
    weights, info_path = folder / f"{name}.safetensors", folder / f"{name}.json"
    if not weights.exists() or not info_path.exists():
        raise JepaworldError(
            f"no distilled policy in {folder} ({weights.name} + {info_path.name}); run `jepaworld distill RUN` first"
        )
    try:
        info = json.loads(info_path.read_text())
        arch = info["architecture"]
        policy = PolicyNet(int(arch["embed_dim"]), int(arch["block_dim"]), int(arch["hidden"]), int(arch["depth"]))
        policy.load_state_dict(load_file(str(weights)))
    except (KeyError, ValueError, RuntimeError, OSError, SafetensorError) as e:
        raise JepaworldError(
            f"{folder}: unreadable policy ({type(e).__name__}: {e}); run `jepaworld distill RUN --fresh`"
        ) from None
    return policy.to(device).eval(), info
