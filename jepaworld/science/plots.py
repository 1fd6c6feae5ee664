"""Figures of the science results (PNG, written atomically with ``jepaworld.figures.save_figure``).

Each ``plot_*`` draws from a result's ``results.json`` dict (``Result.to_dict()``), not from the result
object, so a figure can be redrawn from the file alone and this module imports nothing of the measuring
modules that call it (no import cycle).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from jepaworld.figures import save_figure

COLOURS = {"world model": "C0", "copy-last": "C1", "linear extrapolation": "C2",
           "unperturbed": "C7", "teleport": "C3", "recolour": "C4",
           "latent": "C0", "untrained encoder": "C7", "pixels": "C1", "true state": "C2"}  # fmt: skip


def plot_rollout_error(r: dict[str, Any], out_png: str | Path) -> Path:
    """Normalised error vs horizon: the model and both baselines, +-1.96 standard errors (``r``: a
    ``RolloutErrorResult.to_dict()``)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    k = np.asarray(r["horizons"])
    for name, mean in r["errors"].items():
        m, se = np.asarray(mean), np.asarray(r["stderr"][name])
        ax.plot(k, m, marker="o", ms=3, label=name, color=COLOURS.get(name))
        ax.fill_between(k, m - 1.96 * se, m + 1.96 * se, alpha=0.2, color=COLOURS.get(name))
    if r["crossing"] is not None:
        ax.axvline(r["crossing"], color="k", ls=":", lw=1, label=f"model not better from H={r['crossing']}")
    fs = r["protocol"]["frameskip"]
    ax.set_xlabel(f"horizon (blocks of {fs} env steps)")
    ax.set_ylabel("MSE / mean variance of z")
    ax.set_yscale("log")
    ax.set_title(f"open-loop latent prediction error ({r['protocol']['env']}, held-out)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, out_png)


def plot_probes(r: dict[str, Any], out_png: str | Path) -> Path:
    """Predicted vs true (z-scored) per target column on held-out frames, linear and MLP (``r``: a
    ``ProbeResult.to_dict()``)."""
    cols = list(r["samples"])
    n = max(len(cols), 1)
    ncol = min(n, 4)
    nrow = math.ceil(n / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.0 * nrow), squeeze=False)
    score_of = {c: s for s in r["scores"] for c in s["columns"]}
    for ax, c in zip(axes.flat, cols, strict=False):
        d = r["samples"][c]
        ax.scatter(d["true"], d["linear"], s=4, alpha=0.4, color="C1", label="linear")
        ax.scatter(d["true"], d["mlp"], s=4, alpha=0.4, color="C0", label="MLP")
        lo, hi = float(np.min(d["true"])), float(np.max(d["true"]))
        ax.plot([lo, hi], [lo, hi], color="k", lw=0.8)
        s = score_of.get(c)
        title = c if s is None else f"{c}\n{s['quantity']}: r {s['linear_r']:.3f} lin / {s['mlp_r']:.3f} MLP"
        ax.set_title(title, fontsize=8)
        ax.set_xlabel("true (z-scored)", fontsize=8)
        ax.set_ylabel("predicted", fontsize=8)
    for ax in list(axes.flat)[len(cols) :]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, markerscale=3)
    fig.suptitle(f"probes from frozen embeddings ({r['protocol']['env']}, held-out frames)", fontsize=10)
    return save_figure(fig, out_png)


def plot_surprise(r: dict[str, Any], out_png: str | Path) -> Path:
    """Mean surprise per frame for each kind, with its 95% interval (mean +- 1.96 standard errors) (``r``: a
    ``SurpriseResult.to_dict()``)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for kind, values in r["surprise"].items():
        v = np.asarray(values, np.float64)
        t = np.arange(1, v.shape[1] + 1)
        m = v.mean(0)
        se = v.std(0, ddof=1) / math.sqrt(len(v)) if len(v) > 1 else np.zeros_like(m)
        ax.plot(t, m, marker="o", ms=3, label=kind, color=COLOURS.get(kind))
        ax.fill_between(t, m - 1.96 * se, m + 1.96 * se, alpha=0.2, color=COLOURS.get(kind))
    ax.axvline(r["event_step"], color="k", ls=":", lw=1, label=f"event (frame {r['event_step']})")
    ax.set_xlabel(f"frame ({r['protocol']['frameskip']} env steps apart)")
    ax.set_ylabel("surprise ||z_hat - z||^2")
    ax.set_yscale("log")
    ax.set_title(f"violation of expectation ({r['protocol']['env']}, {len(r['starts'])} trajectories)",
                 fontsize=10)  # fmt: skip
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")
    return save_figure(fig, out_png)


def plot_pca(r: dict[str, Any], out_png: str | Path) -> Path:
    """The embeddings of held-out frames on their two leading principal components, one panel per state
    quantity, each frame coloured by that quantity (a cyclic colour map for angles) (``r``: a
    ``StructureResult.to_dict()``)."""
    pca = r["pca"]
    xy = np.asarray(pca["coords"], np.float64)
    names = list(pca["columns"])
    ncol = min(len(names), 3) if len(names) != 4 else 2
    nrow = math.ceil(len(names) / ncol)
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.9 * ncol, 3.5 * nrow), squeeze=False)
    ev = pca["explained_variance_ratio"]
    for ax, name in zip(axes.flat, names, strict=False):
        cyclic = name in pca["cyclic"]
        sc = ax.scatter(xy[:, 0], xy[:, 1], c=pca["columns"][name], s=5, alpha=0.8, linewidths=0,
                        cmap="twilight" if cyclic else "viridis", vmin=0 if cyclic else None,
                        vmax=360 if cyclic else None)  # fmt: skip
        fig.colorbar(sc, ax=ax, fraction=0.046, pad=0.02).ax.tick_params(labelsize=7)
        ax.set_title(f"coloured by {name}", fontsize=9)
        ax.set_xlabel(f"PC1 ({100 * ev[0]:.0f}% of variance)", fontsize=8)
        ax.set_ylabel(f"PC2 ({100 * ev[1]:.0f}%)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_aspect("equal", adjustable="datalim")
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    p = r["protocol"]
    fig.suptitle(f"PCA of held-out embeddings ({p['env']}, {p['frames']} frames of {p['episodes']} episodes)",
                 fontsize=10)  # fmt: skip
    return save_figure(fig, out_png)


def plot_straightening(r: dict[str, Any], out_png: str | Path) -> Path:
    """Histogram of the angle between consecutive displacements per space, the mean (curvature) marked
    (``r``: a ``StructureResult.to_dict()``)."""
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    edges = np.asarray(r["hist_edges_deg"])
    centres, width = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    for name, s in r["straightening"].items():
        counts = np.asarray(s["hist"], np.float64)
        if counts.sum() == 0:
            continue
        density = counts / counts.sum() / width
        colour = COLOURS.get(name)
        ax.step(centres, density, where="mid", color=colour,
                label=f"{name}: {s['curvature_deg']:.0f}° (mean cos {s['mean_cos']:.2f})")  # fmt: skip
        ax.fill_between(centres, density, step="mid", alpha=0.12, color=colour)
        ax.axvline(s["curvature_deg"], color=colour, ls=":", lw=1.2)
    ax.set_xlim(0, 180)
    ax.set_xticks(range(0, 181, 30))
    ax.set_xlabel("angle between consecutive displacements (degrees; 0 = straight)")
    ax.set_ylabel("density")
    ax.set_title(f"temporal straightening ({r['protocol']['env']}, held-out trajectories; dotted: mean)",
                 fontsize=10)  # fmt: skip
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return save_figure(fig, out_png)
