"""Tables read well in a log (natural width, no `meth… succ…`) and in a terminal of 80 columns (issue 29)."""

import io

from rich.console import Console

from jepaworld.cli.eval import summary_table
from jepaworld.cli.progress import print_table


def method(rate: float, agent: bool) -> dict:
    s = {"ci95": [rate - 0.1, rate + 0.1], "success_rate": rate, "successes": 5, "episodes": 10, "plans": 0 if agent
         else 3, "plan_time_median_s": 0.12, "plan_time_p90_s": 0.2, "envs_per_plan": 50,
         "mean_steps_to_success": 41.2, "mean_final_distance": 12.3, "perturbed": 10, "recovered": 7,
         "mean_steps_to_recover": None}  # fmt: skip
    if agent:
        s |= {"ms_per_step": 0.41, "model_calls_per_step": 0.2, "plans_per_episode": 1.5, "false_alarm_rate": 0.012,
              "detection_rate": float("nan")}  # fmt: skip
    return s


REPORT = {
    "protocol": {"env": "tworoom", "description": "goals 25 steps ahead", "episodes": 50, "seed": 0},
    "plan": {"description": "cem 300 samples x 30 iterations, horizon 5"},
    "summary": {"cem (world model)": method(0.8, False), "policy (distilled)": method(0.7, True),
                "guarded: policy + cem": method(0.86, True), "straight-to-goal heuristic": method(0.1, False)},
}  # fmt: skip
HEADERS = ["method", "success", "95% CI", "steps to success", "final dist.", "plan s (median / p90)",
           "recovered (steps to)", "ms / step", "model calls / step", "plans / episode",
           "guard: false alarms / detected"]  # fmt: skip


def printed(console_kw: dict, monkeypatch, columns: str | None = None) -> list[str]:
    if columns is None:
        monkeypatch.delenv("COLUMNS", raising=False)
    else:
        monkeypatch.setenv("COLUMNS", columns)
    out = io.StringIO()
    print_table(Console(file=out, color_system=None, **console_kw), summary_table(REPORT))
    return out.getvalue().splitlines()


def test_in_a_log_tables_print_at_their_natural_width(monkeypatch):
    lines = printed({}, monkeypatch)  # a file, not a terminal: rich would default to 80 columns
    text = "\n".join(lines)
    assert "…" not in text and max(map(len, lines)) > 80
    for header in HEADERS:  # every header and every method name on one line
        assert any(header in line for line in lines), header
    for name in REPORT["summary"]:
        assert sum(name in line for line in lines) == 2  # in both tables, whole
    assert "7 / 10 (-)" in text and "1.2%" in text  # null and NaN figures read as '-'


def test_columns_is_honoured_and_80_columns_stay_readable(monkeypatch):
    for kw, columns in (({}, "80"), ({"force_terminal": True, "width": 80}, None)):
        lines = printed(kw, monkeypatch, columns)
        assert max(map(len, lines)) <= 80 and "…" not in "\n".join(lines)
        assert all(line.rstrip().endswith(("┓", "┃", "┩", "│", "┘")) for line in lines if line[:1] in "┏┃┡│└")
