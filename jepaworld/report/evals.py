"""Evaluation results (``RUN/eval/*/results.json``) as tables, and the report's evaluations section.

    summary_tables(report)      # [success table] (+ agents, perturbations and routes when there are any)

The CLI (``jepaworld eval``, ``demo``) prints the same tables; each fits 80 columns.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jepaworld.report.html import esc, figure, read_json, section, table_html
from jepaworld.report.table import MISSING, Styled, Table, given, num, pct


def plan_description(plan: dict[str, Any]) -> str:
    """The planner line of a results.json ``plan`` entry (also of files written before it had one)."""
    from jepaworld.config import from_dict

    return plan.get("description") or from_dict({"plan": dict(plan)}).plan.describe()


def planner_name(summary: dict[str, Any]) -> str | None:
    """The world-model planner's row (jepaworld.Agent's guarded mode plans too, but is not the planner)."""
    for name, s in summary.items():
        if "world model" in name or (s.get("plans") and not given(s.get("plans_per_episode"))):
            return name
    return None


def _ci(s: dict[str, Any]) -> str:
    lo, hi = s["ci95"]
    return f"{100 * lo:.0f}-{100 * hi:.0f}%"


def _per(s: dict[str, Any], what: str, step_digits: int, episode_digits: int) -> str:
    """``{what}_per_step`` with ``{what}_per_episode`` in brackets: ``0.410 (12.3)``."""
    step, episode = s.get(f"{what}_per_step"), s.get(f"{what}_per_episode")
    return num(step, step_digits) + (f" ({num(episode, episode_digits)})" if given(episode) else "")


def summary_tables(report: dict[str, Any]) -> list[Table]:
    """The success table of a ``results.json`` dict (every method beside the protocol and planner; the
    planner's row in bold) and, when there are any, the agents, perturbations and memory routes."""
    p, summary = report["protocol"], report["summary"]
    planner = planner_name(summary)
    t = Table(
        f"{p['env']}: {p['description']} ({p['episodes']} episodes, seed {p['seed']})",
        ["method", "success", "95% CI", "steps to success", "final dist.", "plan s (median / p90)"],
        notes=[f"planner: {plan_description(report['plan'])}",
               f"{p.get('redrawn', 0)} drawn starts already at the goal were redrawn"],
    )  # fmt: skip
    perturbed = any(s.get("perturbed") for s in summary.values())
    agents = any(given(s.get("ms_per_step")) or given(s.get("plans_per_episode")) for s in summary.values())
    routed = any(given(s.get("reroutes_per_episode")) for s in summary.values())
    cols = ["recovered (steps to)"] if perturbed else []
    cols += ["ms / step (per episode)", "model calls / step (per episode)", "plans / episode",
             "guard: false alarms / detected"] if agents else []  # fmt: skip
    cols += ["re-routes / episode"] if routed else []
    more = Table("agents, perturbations and routes", ["method", *cols])
    for name, s in summary.items():
        envs = f" ({s['envs_per_plan']:.0f} envs)" if given(s.get("envs_per_plan")) else ""
        times = f"{num(s.get('plan_time_median_s'), 2)} / {num(s.get('plan_time_p90_s'), 2)}"
        plan = times + envs if s.get("plans") else MISSING
        success = Styled(pct(s["success_rate"]), bold=True, aside=f"({s['successes']}/{s['episodes']})")
        t.add_row(Styled(name, bold=True) if name == planner else name, success,
                  _ci(s), num(s["mean_steps_to_success"], 1),
                  num(s["mean_final_distance"], 1), plan)  # fmt: skip
        row = [name]
        if perturbed:
            row += [f"{s['recovered']} / {s['perturbed']} ({num(s.get('mean_steps_to_recover'), 1)})"]
        if agents:
            alarms = MISSING if not given(s.get("false_alarm_rate")) else pct(s["false_alarm_rate"], 1) + (
                f" / {pct(s['detection_rate'])}" if given(s.get("detection_rate")) else "")  # fmt: skip
            row += [_per(s, "ms", 3, 1), _per(s, "model_calls", 1, 0), num(s.get("plans_per_episode"), 2), alarms]
        if routed:
            row += [num(s.get("reroutes_per_episode"), 2)]
        more.add_row(*row)
    return [t, more] if cols else [t]


def success_cell(s: dict[str, Any]) -> Styled:
    lo, hi = s["ci95"]
    return Styled(pct(s["success_rate"]), bold=True, aside=f"[{pct(lo)}–{pct(hi)}]")


def overview_table(reports: list[tuple[str, dict[str, Any]]]) -> Table:
    """One row per evaluation: its protocol, the planner's success and every other method's."""
    methods: list[str] = []
    for _, r in reports:
        methods += [m for m in r["summary"] if m not in methods and m != planner_name(r["summary"])]
    t = Table("", ["evaluation", "protocol", "world-model planner", *methods], left=(0, 1), style="overview")
    for name, r in reports:
        planner = planner_name(r["summary"])
        t.add_row(Styled(name, link=f"eval-{name}"), r["protocol"].get("description", ""),
                  success_cell(r["summary"][planner]) if planner else MISSING,
                  *(success_cell(r["summary"][m]) if m in r["summary"] else MISSING for m in methods))  # fmt: skip
    return t


def eval_block(name: str, d: Path, r: dict[str, Any], open_: bool) -> str:
    p, plan = r["protocol"], r.get("plan", {})
    facts = [
        f"<b>Protocol.</b> {esc(p.get('description', ''))}; {esc(num(p.get('episodes')))} episodes "
        f"(seed {esc(p.get('seed'))}), {esc(p.get('env', ''))} at {esc(p.get('resolution', ''))} px; starts from "
        f"{esc(p.get('held_out', ''))}"
        + (f"; {p['redrawn']} start(s) already at the goal redrawn" if p.get("redrawn") else "")
        + ".",
        f"<b>Planner.</b> {esc(plan.get('description', plan.get('planner', '')))}"
        + (f"; {esc(num(r['planner_wall_s'], 0))} s planning in all" if r.get("planner_wall_s") is not None else "")
        + ".",
        f"<b>Checkpoint.</b> <code>{esc(r.get('checkpoint', ''))}</code>",
    ]
    if r.get("ensemble"):
        members = ", ".join(f"<code>{esc(m)}</code>" for m in r["ensemble"]["members"])
        facts.append(f"<b>Ensemble.</b> the mean cost of {members} + {esc(num(r['ensemble']['penalty']))} std.")
    parts = ["".join(f"<p>{f}</p>" for f in facts), summary_html(r)]
    landscape = ("planning-cost landscape: squared latent distance vs true distance (where it flattens, the cost "
                 "gives the planner no direction)")  # fmt: skip
    parts.append(figure(d / "success.png", "success rate with 95% intervals, beside the baselines; success within "
                                           "the budget", "wide"))  # fmt: skip
    gifs = []
    for g in sorted((d / "videos").glob("*.gif")):
        stem = g.stem.replace("episode-", "episode ").replace("-", ", ")
        gifs.append(figure(g, stem, "gif"))
    videos = (f"<div><p class='note'>Rollouts of the planner (left: observation, right: goal image).</p>"
              f"<div class='gifs'>{''.join(gifs)}</div></div>" if any(gifs) else "")  # fmt: skip
    agent = ("jepaworld.Agent on one episode: per decision, which loop acted (policy or planner), where it "
             "planned, and the surprise of each new frame against the guard threshold")  # fmt: skip
    row = [x for x in (figure(d / "agent.png", agent), figure(d / "latent_distance.png", landscape), videos) if x]
    if row:
        parts.append(f"<div class='grid two'>{''.join(row)}</div>")
    return (f"<details id='eval-{esc(name)}'{' open' if open_ else ''}><summary>{esc(name)}</summary>"
            f"{''.join(parts)}</details>")  # fmt: skip


def summary_html(report: dict[str, Any]) -> str:
    """The tables of :func:`summary_tables` as HTML."""
    return "".join(table_html(t) for t in summary_tables(report))


def eval_section(run: Path) -> str:
    found = []
    for res in sorted((run / "eval").glob("*/results.json")):
        r = read_json(res)
        if r and isinstance(r.get("summary"), dict) and isinstance(r.get("protocol"), dict):
            found.append((res.parent.name, r, res.parent))
    if not found:
        return ""
    found.sort(key=lambda x: (x[0] != "published-protocol", x[0]))  # the demo's own evaluation first
    overview = table_html(overview_table([(n, r) for n, r, _ in found]))
    body = (f"<p>{len(found)} evaluation(s) under <code>eval/</code>. Success of the world-model planner beside "
            f"the baselines, with 95% (Wilson) intervals.</p>{overview}"
            + "".join(eval_block(n, d, r, i == 0) for i, (n, r, d) in enumerate(found)))  # fmt: skip
    return section("eval", "Evaluations", body)
