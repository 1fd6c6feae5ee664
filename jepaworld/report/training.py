"""The report's config and training sections: ``config.yaml`` (collapsible), the last logged metrics of
``metrics.csv`` and ``plots/loss.png``."""

from __future__ import annotations

import csv
import math
from pathlib import Path

from jepaworld.report.html import esc, figure, section
from jepaworld.report.table import num

TRAIN_METRICS = {  # column of metrics.csv -> what it is
    "step": "optimiser steps",
    "loss": "training loss (prediction + SIGReg)",
    "pred": "prediction MSE, training batch",
    "val_pred": "prediction MSE on held-out windows",
    "val_copy": "copy-last baseline on the same windows",
    "sigreg": "SIGReg (distance of z from an isotropic Gaussian)",
    "eff_rank": "effective rank of z (of the embedding width)",
    "z_std_mean": "mean per-dimension std of z",
    "z_std_min": "smallest per-dimension std of z",
    "samples_per_s": "training throughput (windows / s)",
    "elapsed_s": "wall time of the training",
}


def config_section(run: Path) -> str:
    path = run / "config.yaml"
    if not path.exists():
        return ""
    return section("config", "Config", f"<details><summary>{esc(path.name)} (every setting of this run)</summary>"
                                       f"<pre>{esc(path.read_text())}</pre></details>")  # fmt: skip


def last_metrics(path: Path) -> dict[str, float]:
    """The last logged value of every column of ``metrics.csv`` (validation columns: the last non-NaN one)."""
    last: dict[str, float] = {}
    try:
        with path.open() as fh:
            for row in csv.DictReader(fh):
                for k, v in row.items():
                    try:
                        x = float(v)
                    except (TypeError, ValueError):
                        continue
                    if not math.isnan(x):
                        last[k] = x
    except OSError:
        return {}
    return last


def training_section(run: Path) -> str:
    parts = []
    m = last_metrics(run / "metrics.csv")
    if m:
        cards = []
        for k, what in TRAIN_METRICS.items():
            if k in m:
                v = m[k]
                value = f"{int(v):,}" if k == "step" else (f"{v / 60:.1f} min" if k == "elapsed_s" else num(v, 4))
                cards.append(f"<div class='card'><div class='v'>{esc(value)}</div><div class='k'>{esc(k)}</div>"
                             f"<div class='what'>{esc(what)}</div></div>")  # fmt: skip
        parts.append("<p class='note'>Last logged values of <code>metrics.csv</code> (validation: the last "
                     f"validation pass).</p><div class='cards'>{''.join(cards)}</div>")  # fmt: skip
    parts.append(figure(run / "plots" / "loss.png", "training curves (plots/loss.png)", "wide"))
    body = "".join(p for p in parts if p)
    return section("training", "Training", body) if body else ""
