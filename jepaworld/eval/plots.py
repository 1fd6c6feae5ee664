"""Evaluation plots: success with 95% intervals per method, and success as the budget is spent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from jepaworld.figures import save_figure


def plot_eval(report: dict[str, Any], out_png: str | Path) -> Path:
    out = Path(out_png)
    summary = report["summary"]
    names = list(summary)
    rates = [100 * summary[n]["success_rate"] for n in names]
    lo = [100 * (summary[n]["success_rate"] - summary[n]["ci95"][0]) for n in names]
    hi = [100 * (summary[n]["ci95"][1] - summary[n]["success_rate"]) for n in names]
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [3, 2]})
    colors = ["tab:blue"] + ["tab:gray"] * (len(names) - 1)
    axes[0].bar(range(len(names)), rates, yerr=[lo, hi], capsize=6, color=colors)
    for i, (r, up) in enumerate(zip(rates, hi, strict=True)):
        axes[0].text(i, r + up + 1.5, f"{r:.0f}%", ha="center", va="bottom")  # above the interval
    axes[0].set_xticks(range(len(names)), names, rotation=10)
    axes[0].set_ylim(0, 112)
    axes[0].set_ylabel("success rate (%)")
    planner = report["plan"].get("description", "")
    axes[0].set_title(f"{report['protocol']['description']}\nplanner: {planner}", fontsize=8)
    budget = report["protocol"]["budget"]
    for i, name in enumerate(names):
        eps = report["episodes"][name]
        done = sorted(e["steps"] for e in eps if e["success"])
        xs = list(range(budget + 1))
        ys = [100 * sum(s <= x for s in done) / max(len(eps), 1) for x in xs]
        line_colors = ["tab:blue", "tab:gray", "tab:orange", "tab:green", "tab:red"]
        axes[1].plot(xs, ys, label=name, color=line_colors[i % len(line_colors)], lw=2 if i == 0 else 1.2)
    axes[1].set_xlabel("env steps")
    axes[1].set_ylabel("episodes solved (%)")
    axes[1].set_title("success within the budget")
    axes[1].set_ylim(0, 100)
    axes[1].legend(fontsize=8)
    return save_figure(fig, out)
