"""Action encoder: one frame-skip block of raw actions -> one conditioning vector per step."""

from __future__ import annotations

from torch import Tensor, nn


class ActionEncoder(nn.Module):
    """actions: (B, T, frameskip * A) -> (B, T, D).

    Conv1d(kernel 1) over time (a per-step linear map), then Linear -> hidden_mult * D, SiLU,
    Linear -> D, as in the published recipe.
    """

    def __init__(self, in_dim: int, dim: int, hidden_mult: int = 4):
        super().__init__()
        self.in_dim = in_dim
        self.conv = nn.Conv1d(in_dim, in_dim, kernel_size=1)
        self.mlp = nn.Sequential(
            nn.Linear(in_dim, hidden_mult * dim), nn.SiLU(), nn.Linear(hidden_mult * dim, dim)
        )

    def forward(self, actions: Tensor) -> Tensor:
        if actions.shape[-1] != self.in_dim:
            raise ValueError(
                f"action blocks have {actions.shape[-1]} dims, expected frameskip * action_dim = "
                f"{self.in_dim}; "
                "check the dataset's frameskip and action_dim against the model's"
            )
        x = self.conv(actions.transpose(1, 2)).transpose(1, 2)  # (B, T, in_dim)
        return self.mlp(x)
