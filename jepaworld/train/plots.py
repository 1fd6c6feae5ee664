"""Loss curves of a run, from its metrics.csv."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import matplotlib.pyplot as plt

from jepaworld.figures import save_figure


def _column(rows: list[dict[str, str]], key: str) -> tuple[list[int], list[float]]:
    xs, ys = [], []
    for r in rows:
        v = float(r.get(key) or "nan")
        if not math.isnan(v):
            xs.append(int(r["step"]))
            ys.append(v)
    return xs, ys


def plot_training(metrics_csv: str | Path, out_png: str | Path) -> Path:
    """Prediction loss (train, val, copy-last baseline), SIGReg, and embedding spread vs step."""
    with open(metrics_csv) as f:
        rows = list(csv.DictReader(f))
    out = Path(out_png)
    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    ax = axes[0]
    for key, label in [
        ("pred", "train pred"), ("val_pred", "val pred"), ("val_copy", "val: copy last z"),
        ("val_roll", "val: open-loop rollout"),
    ]:
        xs, ys = _column(rows, key)
        if xs:
            ax.plot(xs, ys, label=label, marker="o" if key != "pred" else None, ms=3)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_title("next-embedding MSE")
    ax.legend()
    xs, ys = _column(rows, "sigreg")
    axes[1].plot(xs, ys, color="tab:purple")
    axes[1].set_yscale("log")
    axes[1].set_title("SIGReg")
    axes[1].set_xlabel("step")
    for key in ("z_std_mean", "z_std_min"):
        xs, ys = _column(rows, key)
        axes[2].plot(xs, ys, label=key)
    ax2 = axes[2].twinx()
    xs, ys = _column(rows, "eff_rank")
    ax2.plot(xs, ys, color="tab:red", label="effective rank")
    ax2.set_ylabel("effective rank", color="tab:red")
    axes[2].set_title("collapse diagnostics")
    axes[2].set_xlabel("step")
    axes[2].legend(loc="lower left")
    return save_figure(fig, out)
