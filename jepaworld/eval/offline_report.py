"""Report sections of the offline evaluation (``jepaworld offline-eval``): the planning check and the
surprise timelines, as ``jepaworld.eval.report`` lays out the other science results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepaworld.eval.report import esc, figure, num, sentence, table

COLUMNS = (("first_block_mse", "first-block action MSE"), ("first_block_cos", "first-block cos"),
           ("plan_mse", "plan action MSE"), ("end_error", "end embedding error"))  # fmt: skip


def _cell(v: float | None, se: float | None) -> str:
    if v is None:
        return "–"
    return num(v) + (f" <span class='ci'>± {num(1.96 * se)}</span>" if se is not None else "")


def offline_plan_body(d: Path, r: dict[str, Any]) -> str:
    p = r["protocol"]
    rows = [[esc(m), *(_cell(r["rows"][m][k], r["stderr"][m][k]) for k, _ in COLUMNS)] for m in r["rows"]]
    w = r["wins"]
    rows.append(["<i>planner beats logged mean</i>", num(w["first_block_mse"], 2), "", num(w["plan_mse"], 2),
                 num(w["end_error"], 2)])  # fmt: skip
    t = table(["method", *(label for _, label in COLUMNS)], rows, "num")
    text = (f"<p>{sentence(p['description'])}</p><p><b>Planner:</b> {esc(p['planner'])}. Intervals: ±1.96 standard "
            "errors over pairs. Lower is better except the cosine (1 = the logged direction).</p>")  # fmt: skip
    return f"{text}<div class='grid'><div>{t}</div>{figure(d / 'offline_plan.png', 'per method, over pairs')}</div>"


def surprise_timeline_body(d: Path, r: dict[str, Any]) -> str:
    rows = [[num(k["episode"]), esc(k["task"] or ""), num(k["step"]), num(k["seconds"], 2), num(k["surprise"]),
             num(k["robust_z"], 1)] for k in r["peaks"]]  # fmt: skip
    t = table(["episode", "task", "step", "time (s)", "surprise", "robust z"], rows, "num compact")
    text = (f"<p>{sentence(r['protocol']['description'])}</p><p>Median surprise {num(r['median'])}, "
            f"MAD {num(r['mad'])}; the most surprising moments:</p>")  # fmt: skip
    fig = figure(d / "surprise_timelines.png", "surprise along each held-out episode; red: the top moments", "wide")
    return f"{text}<div class='grid'><div>{t}</div>{fig}</div>"
