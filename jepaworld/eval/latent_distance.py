"""Does latent distance grow with true distance? The planner's cost is only as useful as that.

A terminal cost ||z_H - z_goal||^2 that stops growing beyond some true distance gives the planner
a flat landscape for far goals: check this before tuning anything else (docs/results/tworoom.md, "What mattered").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import torch

from jepaworld.data import EpisodeFile
from jepaworld.figures import save_figure


@torch.inference_mode()
def latent_distance_profile(
    model: Any, file: EpisodeFile, episode_ids: Sequence[int], pairs: int = 600, bins: int = 12, seed: int = 0,
    distance: Callable[[np.ndarray, np.ndarray], float] | None = None,
) -> dict[str, list[float]]:  # fmt: skip
    """Squared latent distance of random frame pairs, binned by the true state distance.

    distance(state_a, state_b): the env's goal distance (what its success test thresholds);
    Euclidean over the whole state if None. Returns bin edges (state units), and per bin the mean
    and std of ||z_a - z_b||^2 and the count.
    """
    rng = np.random.default_rng(seed)
    offs, lens = np.asarray(file.ep_offset), np.asarray(file.ep_len)
    rows = np.concatenate([np.arange(offs[e], offs[e] + lens[e]) for e in episode_ids])
    a, b = rng.choice(rows, pairs), rng.choice(rows, pairs)
    states = file.require_state("the latent-distance profile")[...]
    if distance is None:
        d = np.linalg.norm(states[a] - states[b], axis=-1)
    else:
        d = np.array([distance(states[i], states[j]) for i, j in zip(a, b, strict=True)])
    unique, inverse = np.unique(np.concatenate([a, b]), return_inverse=True)  # h5py reads sorted rows
    device = next(model.parameters()).device
    z = model.encode(torch.as_tensor(file.pixels[unique], device=device)[:, None])[:, 0][torch.as_tensor(inverse)]
    lat = (z[:pairs] - z[pairs:]).square().sum(-1).cpu().numpy()
    edges = np.linspace(0, np.quantile(d, 0.98), bins + 1)
    which = np.clip(np.digitize(d, edges) - 1, 0, bins - 1)
    mean = [float(lat[which == i].mean()) if (which == i).any() else float("nan") for i in range(bins)]
    std = [float(lat[which == i].std()) if (which == i).any() else float("nan") for i in range(bins)]
    count = [int((which == i).sum()) for i in range(bins)]
    return {"edges": edges.tolist(), "mean": mean, "std": std, "count": count}


def plot_latent_distance(profile: dict[str, list[float]], out_png: str | Path) -> Path:
    out = Path(out_png)
    e = np.asarray(profile["edges"])
    centres = (e[:-1] + e[1:]) / 2
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.errorbar(centres, profile["mean"], yerr=profile["std"], marker="o", capsize=3)
    ax.set_xlabel("true distance between states (the env's goal distance)")
    ax.set_ylabel("||z_a - z_b||^2")
    ax.set_title("latent distance vs true distance (the planner's cost landscape)")
    return save_figure(fig, out)
