"""Fitting the policy to labelled pairs: MSE on normalised action blocks, AdamW, cosine schedule."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from jepaworld.agent.pairs import Labels
from jepaworld.agent.policy import PolicyNet

Progress = Callable[[str, int, int], None]


@dataclass
class FitSettings:
    steps: int = 2000
    batch_size: int = 256
    lr: float = 1e-3
    weight_decay: float = 1e-4
    extra_fraction: float = 0.25  # share of each batch drawn from the auxiliary (hindsight) labels
    val_fraction: float = 0.1


def fit_policy(policy: PolicyNet, main: Labels, settings: FitSettings, seed: int, extra: Labels | None = None,
               progress: Progress | None = None, stage: str = "fitting") -> dict[str, float]:  # fmt: skip
    """Train ``policy`` in place on ``main`` (and ``extra`` for ``extra_fraction`` of each batch).

    A seeded ``val_fraction`` of ``main`` is held out; returns train and validation MSE (per block dim).
    """
    g = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(len(main))
    n_val = int(round(settings.val_fraction * len(main))) if len(main) >= 20 else 0
    val, train = main.subset(perm[:n_val]), main.subset(perm[n_val:])
    z_t, g_t, y_t = _xy(train)
    ex = _xy(extra) if extra is not None and len(extra) else None
    n_extra = int(settings.batch_size * settings.extra_fraction) if ex is not None else 0
    n_main = settings.batch_size - n_extra
    opt = torch.optim.AdamW(policy.parameters(), lr=settings.lr, weight_decay=settings.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * s / settings.steps)))
    policy.train()
    losses = []
    for step in range(settings.steps):
        i = torch.randint(len(y_t), (n_main,), generator=g)
        z, zg, y = z_t[i], g_t[i], y_t[i]
        if ex is not None and n_extra:
            j = torch.randint(len(ex[2]), (n_extra,), generator=g)
            z, zg, y = torch.cat([z, ex[0][j]]), torch.cat([zg, ex[1][j]]), torch.cat([y, ex[2][j]])
        loss = (policy(z, zg) - y).square().mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress and (step + 1) % 50 == 0:
            progress(stage, step + 1, settings.steps)
    policy.eval()
    out = {"train_mse": float(np.mean(losses[-100:])), "examples": float(len(train))}
    if n_val:
        z, zg, y = _xy(val)
        with torch.no_grad():
            out["val_mse"] = float((policy(z, zg) - y).square().mean())
            out["val_mse_clipped"] = float((policy.act(z, zg) - y).square().mean())
    return out


def _xy(labels: Labels) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (torch.as_tensor(labels.z_hist[:, -1]), torch.as_tensor(labels.z_goal), torch.as_tensor(labels.target))
