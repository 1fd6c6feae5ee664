"""An ensemble of independently trained world models, planned with as one model.

    ens = WorldModelEnsemble([wm_a, wm_b], penalty=0.0)
    z = ens.encode(pixels)                            # (..., M*D): every member's latent side by side
    c = ens.cost(z_hist, z_goal, blocks, mode="min")  # (B, S): the members' costs combined

A plan that exploits one model's prediction errors rarely exploits an independently trained
model's: averaging the members' costs (and, with ``penalty`` k > 0, adding k times their spread)
takes from the planner what only one member believes. ``LatentMPC`` plans with an ensemble
unchanged: its history and goal embeddings simply carry every member's latent.

Scales. Each member's cost is a squared latent distance summed over its D dims. Members trained
with SIGReg have latents close to N(0, I), so E||z - z'||^2 ~ 2D for unrelated frames in every
member: with equal ``embed_dim`` their costs are on comparable scales and a plain mean weighs them
equally (``tests/test_ensemble.py`` checks it on two trainings). Members of another recipe would
need their costs rescaled first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import torch
from torch import Tensor, nn

from jepaworld.errors import JepaworldError
from jepaworld.model.world_model import WorldModel


class WorldModelEnsemble(nn.Module):
    """M world models of one env and preset: the cost protocol of a ``WorldModel`` over their joint latents.

    members: WorldModels with the same action_dim, frameskip, history and embed_dim (else
    ``JepaworldError``); penalty: k >= 0, the cost is mean + k * std across members (std over the M
    members, population form: 0 for one member). Latents are the members' (B, ..., D) side by side,
    (B, ..., M*D), member i's in columns [i*D, (i+1)*D).
    """

    def __init__(self, members: Sequence[WorldModel], penalty: float = 0.0) -> None:
        super().__init__()
        if not members:
            raise JepaworldError("an ensemble needs at least one world model")
        if not penalty >= 0.0:
            raise JepaworldError(f"the ensemble penalty k (cost = mean + k * std) must be >= 0, got {penalty}")
        lead = members[0]
        for i, m in enumerate(members[1:], start=1):
            for name, a, b in (
                ("action_dim", lead.action_dim, m.action_dim),
                ("frameskip", lead.frameskip, m.frameskip),
                ("history", lead.history, m.history),
                ("embed_dim", lead.cfg.embed_dim, m.cfg.embed_dim),
            ):
                if a != b:
                    raise JepaworldError(
                        f"ensemble member {i} has {name}={b} but member 0 has {name}={a}: an ensemble's members "
                        "must be trainings of the same env and preset (same data, action blocks and latent size)"
                    )
        self.members = nn.ModuleList(members)
        self.penalty = float(penalty)
        self.action_dim, self.frameskip, self.history = lead.action_dim, lead.frameskip, lead.history
        self.embed_dim = lead.cfg.embed_dim  # D of each member; the ensemble's latents have M * D dims

    def __len__(self) -> int:
        return len(self.members)

    def _members(self) -> list[WorldModel]:
        return cast(list[WorldModel], list(self.members))

    def split(self, z: Tensor) -> tuple[Tensor, ...]:
        """Joint latents (..., M*D) -> the M members' (..., D)."""
        if z.shape[-1] != len(self) * self.embed_dim:
            raise ValueError(f"ensemble latents must have M*D = {len(self)}*{self.embed_dim} dims, got "
                             f"{tuple(z.shape)}; encode with the ensemble, not one of its members")  # fmt: skip
        return z.split(self.embed_dim, dim=-1)

    def encode(self, pixels: Tensor) -> Tensor:
        """pixels: uint8 (..., H, W, 3) -> z: (..., M*D), every member's latent side by side."""
        return torch.cat([m.encode(pixels) for m in self._members()], dim=-1)

    def rollout(self, z_hist: Tensor, blocks: Tensor, hist_blocks: Tensor | None = None) -> Tensor:
        """Every member's rollout. z_hist: (B, h, M*D), blocks: (B, H, fs*A) -> (B, H, M*D).

        hist_blocks goes to each member's ``WorldModel.rollout`` as it is.
        """
        pairs = zip(self._members(), self.split(z_hist), strict=True)
        return torch.cat([m.rollout(z, blocks, hist_blocks) for m, z in pairs], dim=-1)

    def member_costs(
        self,
        z_start: Tensor,
        z_goal: Tensor,
        blocks: Tensor,
        mode: str = "terminal",
        hist_blocks: Tensor | None = None,
        precision: str = "fp32",
    ) -> Tensor:
        """Each member's own cost. z_start: (B, h, M*D) or (B, M*D), z_goal: (B, M*D),
        blocks: (B, S, H, fs*A) -> (M, B, S). mode, hist_blocks and precision go to every member's
        ``WorldModel.cost`` as they are."""
        pairs = zip(self._members(), self.split(z_start), self.split(z_goal), strict=True)
        return torch.stack([
            m.cost(zs, zg, blocks, mode=mode, hist_blocks=hist_blocks, precision=precision)
            for m, zs, zg in pairs
        ])  # fmt: skip

    def cost(
        self,
        z_start: Tensor,
        z_goal: Tensor,
        blocks: Tensor,
        mode: str = "terminal",
        hist_blocks: Tensor | None = None,
        precision: str = "fp32",
    ) -> Tensor:
        """Planning cost, the protocol of ``WorldModel.cost`` on joint latents -> (B, S).

        z_start: (B, h, M*D) or (B, M*D), z_goal: (B, M*D), blocks: (B, S, H, fs*A); mode ("terminal" or
        "min"), hist_blocks (B, h-1, fs*A) and precision as for ``WorldModel.cost``. The mean of the
        members' costs, plus ``penalty`` times their standard deviation (population form) when the
        penalty is > 0.
        """
        c = self.member_costs(z_start, z_goal, blocks, mode, hist_blocks, precision)  # (M, B, S)
        mean = c.mean(0)
        return mean + self.penalty * c.std(0, correction=0) if self.penalty > 0 and len(self) > 1 else mean
