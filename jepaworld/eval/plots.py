"""Evaluation plots: success with 95% intervals per method, planning-time distribution."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def plot_eval(report: dict[str, Any], out_png: str | Path, plan_times: list[float] | None = None) -> Path:
    out = Path(out_png)
    out.parent.mkdir(parents=True, exist_ok=True)
    summary = report["summary"]
    names = list(summary)
    rates = [100 * summary[n]["success_rate"] for n in names]
    lo = [100 * (summary[n]["success_rate"] - summary[n]["ci95"][0]) for n in names]
    hi = [100 * (summary[n]["ci95"][1] - summary[n]["success_rate"]) for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 2]})
    colors = ["tab:blue"] + ["tab:gray"] * (len(names) - 1)
    axes[0].bar(range(len(names)), rates, yerr=[lo, hi], capsize=6, color=colors)
    for i, r in enumerate(rates):
        axes[0].text(i, r + 2, f"{r:.0f}%", ha="center")
    axes[0].set_xticks(range(len(names)), names, rotation=10)
    axes[0].set_ylim(0, 110)
    axes[0].set_ylabel("success rate (%)")
    axes[0].set_title(report["protocol"]["description"], fontsize=8)
    if plan_times:
        axes[1].hist(plan_times, bins=20, color="tab:blue")
        axes[1].set_xlabel("seconds per planning call (all envs of a batch)")
        axes[1].set_title("planning time")
    else:
        axes[1].axis("off")
    fig.tight_layout()
    tmp = out.with_suffix(".tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(out)
    return out
