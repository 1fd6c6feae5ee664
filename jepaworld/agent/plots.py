"""One episode of every agent side by side: surprise per decision, which loop acted, latent cost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from jepaworld.figures import save_figure

LOOP_COLOURS = {"policy": "tab:blue", "planner": "tab:orange"}


def pick_episode(decisions: dict[str, list[dict[str, Any]]]) -> int:
    """The first episode where an agent's surprise trigger planned, else where any trigger did, else the first."""
    rows = [d for log in decisions.values() for d in log]
    for want in ("surprise", "stall"):
        hits = sorted(d["episode"] for d in rows if d["planned"] and d["reason"] == want)
        if hits:
            return hits[0]
    return min((d["episode"] for d in rows), default=0)


def plot_decisions(decisions: dict[str, list[dict[str, Any]]], out_png: str | Path,
                   protocol: dict[str, Any] | None = None, episode: int | None = None) -> Path:  # fmt: skip
    """``decisions``: method -> decision log (``run_agent``); one panel per method for ``episode``."""
    protocol = protocol or {}
    episode = pick_episode(decisions) if episode is None else episode
    threshold = (protocol.get("guard") or {}).get("threshold")
    perturb = (protocol.get("perturb") or {}).get("step")
    fig, axes = plt.subplots(len(decisions), 1, figsize=(9, 2.6 * len(decisions)), sharex=True, squeeze=False)
    for ax, (method, log) in zip(axes[:, 0], decisions.items(), strict=True):
        rows = sorted((d for d in log if d["episode"] == episode), key=lambda d: d["step"])
        steps = np.array([d["step"] for d in rows])
        s = np.array([d["surprise"] for d in rows], float)
        ax.plot(steps, s, color="0.6", lw=1, zorder=1)
        for loop, colour in LOOP_COLOURS.items():
            m = np.array([d["loop"] == loop for d in rows], bool)
            if m.any():
                ax.scatter(steps[m], s[m], color=colour, s=36, zorder=2, label=f"{loop} acted")
        planned = np.array([d["planned"] for d in rows], bool)
        if planned.any():
            ax.scatter(steps[planned], s[planned], facecolors="none", edgecolors="k", s=90, zorder=3,
                       label="planned here")  # fmt: skip
        if threshold is not None:
            ax.axhline(threshold, color="tab:red", ls="--", lw=1, label=f"guard threshold {threshold:.2g}")
        if perturb is not None:
            ax.axvline(perturb, color="tab:purple", ls=":", lw=1.5, label=f"perturbation (step {perturb})")
        ax.set_yscale("log")
        ax.set_ylabel("surprise ||ẑ - z||²")
        ax.set_title(f"{method}: episode {episode}", fontsize=9, loc="left")
        twin = ax.twinx()
        twin.plot(steps, [d["latent_cost"] for d in rows], color="tab:green", lw=1, alpha=0.6)
        twin.set_ylabel("||z - z_goal||²", color="tab:green", fontsize=8)
        ax.legend(fontsize=7, loc="upper right")
    axes[-1, 0].set_xlabel("env step of the decision")
    fig.suptitle("surprise per decision, which loop acted (colour), where a plan was made (ring); "
                 "green: latent distance to the goal", fontsize=9)  # fmt: skip
    return save_figure(fig, out_png)
