"""A one-page HTML report of a run: training curves, success beside baselines, rollout videos."""

from __future__ import annotations

import html
import json
import math
import os
from pathlib import Path
from typing import Any

from jepaworld.config import atomic_write_text


def _rel(path: Path, base: Path) -> str:
    return html.escape(os.path.relpath(path, base))


def _summary_rows(report: dict[str, Any]) -> str:
    rows = []
    for name, s in report["summary"].items():
        lo, hi = s["ci95"]
        steps = "-" if math.isnan(s["mean_steps_to_success"]) else f"{s['mean_steps_to_success']:.1f}"
        plan = f"{s['plan_time_median_s']:.2f} / {s['plan_time_p90_s']:.2f}" if s["plans"] else "-"
        rows.append(
            f"<tr><td>{html.escape(name)}</td><td><b>{100 * s['success_rate']:.0f}%</b></td>"
            f"<td>{100 * lo:.0f}–{100 * hi:.0f}%</td><td>{steps}</td><td>{s['mean_final_distance']:.1f}</td>"
            f"<td>{plan}</td></tr>"
        )
    return "\n".join(rows)


def write_report(run: str | Path, eval_dirs: list[Path], train_metrics: dict[str, Any] | None = None) -> Path:
    """Write ``RUN/report.html`` from the run's plots and the given evaluation folders."""
    run = Path(run)
    parts = [f"<h1>jepaworld run: {html.escape(run.name)}</h1>"]
    if train_metrics:
        keys = ["step", "pred", "val_pred", "val_copy", "sigreg", "eff_rank", "z_std_mean"]
        cells = "".join(
            f"<tr><td>{k}</td><td>{train_metrics[k]:.4g}</td></tr>" for k in keys if k in train_metrics
        )
        parts.append(f"<h2>Training</h2><table>{cells}</table>")
    loss_png = run / "plots" / "loss.png"
    if loss_png.exists():
        parts.append(f'<img src="{_rel(loss_png, run)}" width="100%">')
    for d in eval_dirs:
        res = d / "results.json"
        if not res.exists():
            continue
        report = json.loads(res.read_text())
        p = report["protocol"]
        parts.append(f"<h2>Evaluation: {html.escape(p['description'])}</h2>")
        parts.append(
            f"<p>{p['episodes']} episodes, seed {p['seed']}, held out: {html.escape(str(p['held_out']))}; "
            f"planner {html.escape(json.dumps(report['plan']))}</p>"
        )
        parts.append(
            "<table><tr><th>method</th><th>success</th><th>95% CI</th><th>steps to success</th>"
            f"<th>final distance</th><th>plan s (median / p90)</th></tr>{_summary_rows(report)}</table>"
        )
        if (d / "success.png").exists():
            parts.append(f'<img src="{_rel(d / "success.png", run)}" width="90%">')
        if (d / "latent_distance.png").exists():
            parts.append(
                "<p>Planning cost landscape: squared latent distance between frames vs their true distance. "
                "Where it flattens, the terminal cost gives the planner no direction.</p>"
                f'<img src="{_rel(d / "latent_distance.png", run)}" width="50%">'
            )
        gifs = sorted((d / "videos").glob("*.gif"))
        if gifs:
            parts.append("<p>Rollouts (left: observation, right: goal image)</p>")
            parts.append("".join(f'<img src="{_rel(g, run)}" title="{g.name}" style="margin:4px">' for g in gifs))
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:auto} table{border-collapse:collapse;margin:8px 0}"
        "td,th{border:1px solid #ccc;padding:4px 10px;text-align:right} td:first-child{text-align:left}"
    )
    head = f"<meta charset='utf-8'><title>jepaworld report</title><style>{style}</style>"
    page = f"<!doctype html><html><head>{head}</head><body>{''.join(parts)}</body></html>"
    out = run / "report.html"
    atomic_write_text(out, page)
    return out
