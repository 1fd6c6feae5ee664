"""The offline evaluation's results (``jepaworld offline-eval``) as tables: the planning check (planned vs
logged actions) and the surprise timelines' top moments."""

from __future__ import annotations

from typing import Any

from jepaworld.report.table import MISSING, Styled, Table, num

COLUMNS = (("first_block_mse", "first-block action MSE"), ("first_block_cos", "first-block cos"),
           ("plan_mse", "plan action MSE"), ("end_error", "end embedding error"))  # fmt: skip


def _cell(v: float | None, se: float | None) -> Styled | str:
    if v is None:
        return MISSING
    return Styled(num(v), aside=f"± {num(1.96 * se)}" if se is not None else "")


def offline_plan_table(r: dict[str, Any]) -> Table:
    """Per method (planner, logged actions, logged mean, ...) how its actions compare with the logged ones, with
    ±1.96 standard errors; last row: how often the planner beats the logged mean."""
    p = r["protocol"]
    t = Table(f"{p['env']}: offline planning check ({p['pairs']} pairs, goal {p['goal_offset']} steps ahead)",
              ["method", *(label for _, label in COLUMNS)],
              notes=[p["description"], f"planner: {p['planner']}", "intervals: ±1.96 standard errors over pairs; "
                     "lower is better except the cosine (1 = the logged direction)"])  # fmt: skip
    for m, row in r["rows"].items():
        t.add_row(m, *(_cell(row[k], r["stderr"][m][k]) for k, _ in COLUMNS))
    w = r["wins"]
    t.add_row(Styled("planner beats logged mean", italic=True), num(w["first_block_mse"], 2), "",
              num(w["plan_mse"], 2), num(w["end_error"], 2))  # fmt: skip
    return t


def timeline_table(r: dict[str, Any]) -> Table:
    """The most surprising moments along held-out episodes (robust z against the median and MAD)."""
    p = r["protocol"]
    t = Table(f"{p['env']}: the most surprising moments of {p['episodes']} held-out episodes",
              ["episode", "task", "step", "time (s)", "surprise", "robust z"], left=(1,), style="compact",
              notes=[p["description"], f"median surprise {num(r['median'])}, MAD {num(r['mad'])}"])  # fmt: skip
    for k in r["peaks"]:
        t.add_row(num(k["episode"]), k["task"] or "", num(k["step"]), num(k["seconds"], 2), num(k["surprise"]),
                  num(k["robust_z"], 1))  # fmt: skip
    return t
