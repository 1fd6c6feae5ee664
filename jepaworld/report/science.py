"""World-model science results (``RUN/science/*/results.json``) as tables, and the report's science section.

    SCIENCE[kind].table(results)   # the Table of a rollout-error, probe, surprise, structure, surprise-timeline
                                   # or offline-plan results.json dict: what `jepaworld <kind>` prints, and the report
    science_section(run)           # every science/*/ folder: notes, table and plots ('other': its plots)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jepaworld.report.html import esc, figure, notes_html, read_json, section, sentence, table_html
from jepaworld.report.offline import offline_plan_table, timeline_table
from jepaworld.report.table import Styled, Table, num

PUBLISHED_SURPRISE = ("published (LeWM paper): teleporting the agent or block raises surprise significantly (paired "
                      "t-test, p < 0.01) in Two-Room, Push-T and Cube; colour changes raise it less")  # fmt: skip


def rollout_error_table(r: dict[str, Any]) -> Table:
    """Error per horizon of each predictor, and the world model's error over the best baseline's."""
    p, names = r["protocol"], list(r["errors"])
    t = Table(f"{p['env']}: open-loop latent prediction error (MSE / mean variance of z), held-out",
              ["horizon", *names, "model / best baseline"], left=(), style="compact",
              notes=[p["description"], f"world model: {r.get('verdict', '')}"])  # fmt: skip
    for i, k in enumerate(r["horizons"]):
        best = min(r["errors"][n][i] for n in names if n != "world model")
        model = r["errors"].get("world model", [math.nan] * len(r["horizons"]))[i]
        t.add_row(str(k), *(num(r["errors"][n][i], 4) for n in names), num(model / best if best else math.nan, 4))
    return t


def probe_table(r: dict[str, Any]) -> Table:
    """Linear and MLP probes per quantity, with the published numbers where there are some."""
    p, scores = r["protocol"], r["scores"]
    published = any(s.get("published_mlp_r") is not None for s in scores)
    notes = [f"{p['description']}; ridge penalty {num(r['ridge_lambda'])}"]
    for s in scores:
        if s.get("extra"):
            errs = ", ".join(f"{'MLP' if k.startswith('mlp') else 'linear'} {v:.1f}°" for k, v in s["extra"].items())
            notes.append(f"{s['quantity']}: median angle error {errs}")
    if published:
        notes.append("published: LeWM on Push-T (the LeWM paper, 'Probing')")
    t = Table(f"{p['env']}: probes from frozen embeddings (Pearson r and MSE on z-scored targets, "
              f"{p['test_frames']} held-out frames)",
              ["quantity", "linear r", "linear MSE", "MLP r", "MLP MSE"]
              + (["published linear r", "published MLP r"] if published else []), notes=notes)  # fmt: skip
    for s in scores:
        row = [s["quantity"], num(s["linear_r"], 4), num(s["linear_mse"], 4), num(s["mlp_r"], 4), num(s["mlp_mse"], 4)]
        t.add_row(*row, *((num(s.get("published_linear_r")), num(s.get("published_mlp_r"))) if published else ()))
    return t


def surprise_table(r: dict[str, Any]) -> Table:
    """Surprise at the event frame per perturbation vs the same frame unperturbed (t-test, Cohen's d, AUROC)."""
    p, k = r["protocol"], r["event_step"]
    notes = [p["description"], f"control: AUROC of frame {k} within the unperturbed trajectories "
             f"{num(r.get('control_auroc'))} (0.5 = no signal)", PUBLISHED_SURPRISE]  # fmt: skip
    t = Table(f"{p['env']}: violation of expectation at frame {k} ({p['trajectories']} matched trajectories)",
              ["perturbation", f"surprise at frame {k}", "unperturbed", "ratio", "paired t", "p (two-sided)",
               "Cohen's d", "AUROC"], notes=notes)  # fmt: skip
    what = {"teleport": f"teleport ({p.get('teleported', '')})", "recolour": "recolour (RGB → BGR)"}
    for s in r["stats"]:
        t.add_row(what.get(s["kind"], s["kind"]), num(s["event_mean"]), num(s["control_mean"]), num(s["ratio"], 1),
                  num(s["t"], 2), num(s["p_two_sided"]), num(s["cohens_d"], 2), num(s["auroc"]))  # fmt: skip
    return t


def structure_table(r: dict[str, Any]) -> Table:
    """Curvature of trajectories per space (latent, untrained encoder, pixels, state), the PCA under it."""
    p, ev = r["protocol"], r["pca"]["explained_variance_ratio"]
    fits = r["pca"].get("state_r2") or {}
    r2 = ("; an affine fit from the two recovers R² " + ", ".join(f"{num(v, 2)} of {k}" for k, v in fits.items())
          if fits else "")  # fmt: skip
    notes = [p["description"], f"the two leading principal components hold {100 * ev[0]:.1f}% and {100 * ev[1]:.1f}% "
             f"of the embedding variance{r2}", "curvature 0°: a straight path; 90°: a right-angle zig-zag; skipped: "
             "triples where a displacement is zero (nothing moved)"]  # fmt: skip
    t = Table(f"{p['env']}: temporal straightening along held-out trajectories (0° = straight)",
              ["space", "curvature (mean angle)", "median angle", "mean cos", "triples", "skipped"], notes=notes)
    for name, s in r["straightening"].items():
        t.add_row(name, Styled(f"{num(s['curvature_deg'], 1)}°", bold=True), f"{num(s['median_deg'], 1)}°",
                  num(s["mean_cos"]), num(s["triples"]), num(s["skipped"]))  # fmt: skip
    return t


@dataclass(frozen=True)
class Kind:
    """A science result: its report heading, its table, and its plots (file, caption, 'wide' below the table)."""

    heading: str
    table: Callable[[dict[str, Any]], Table]
    figures: tuple[tuple[str, str, str], ...]


SCIENCE: dict[str, Kind] = {  # in the report's order
    "rollout-error": Kind("Open-loop rollout error", rollout_error_table,
                          (("rollout_error.png", "open-loop error vs horizon (±1.96 standard errors)", ""),)),
    "probe": Kind("Probes: the state from frozen embeddings", probe_table,
                  (("probes.png", "predicted vs true state (z-scored), held-out frames", ""),)),
    "surprise": Kind("Surprise: violation of expectation", surprise_table,
                     (("surprise.png", "mean surprise per frame (95% intervals); dotted: the event", ""),)),
    "surprise-timeline": Kind("Surprise along held-out episodes", timeline_table,
                              (("surprise_timelines.png", "surprise along each held-out episode; red: the top "
                                                          "moments", "wide"),)),
    "offline-plan": Kind("Offline planning check: planned vs logged actions", offline_plan_table,
                         (("offline_plan.png", "per method, over pairs", ""),)),
    "structure": Kind("Latent structure: PCA and temporal straightening", structure_table,
                      (("straightening.png", "angles between consecutive displacements per space", ""),
                       ("pca.png", "held-out embeddings on their first two principal components, coloured by the "
                                   "true state", "wide"))),
}  # fmt: skip
SIGNATURES = (  # the kind of a results.json in a folder of another name: keys only it has
    ("rollout-error", ("horizons", "errors")), ("probe", ("scores", "ridge_lambda")),
    ("surprise", ("event_step", "stats")), ("structure", ("straightening", "pca")),
    ("surprise-timeline", ("timelines", "peaks")), ("offline-plan", ("rows", "wins")),
)  # fmt: skip


def science_kind(name: str, r: dict[str, Any]) -> str:
    if name in SCIENCE:
        return name
    return next((kind for kind, keys in SIGNATURES if all(k in r for k in keys)), "other")


def other_body(d: Path, r: dict[str, Any]) -> str:
    desc = (r.get("protocol") or {}).get("description") if isinstance(r.get("protocol"), dict) else None
    figs = "".join(figure(p, p.name) for p in sorted(d.glob("*.png")))
    return (f"<p>{sentence(desc)}</p>" if desc else "") + figs


def science_body(kind: str, d: Path, r: dict[str, Any]) -> str:
    """The notes, then the table beside its plot, then the wide plots."""
    k = SCIENCE[kind]
    t = k.table(r)
    beside = "".join(figure(d / f, caption) for f, caption, cls in k.figures if cls != "wide")
    below = "".join(figure(d / f, caption, cls) for f, caption, cls in k.figures if cls == "wide")
    return f"{notes_html(t)}<div class='grid'><div>{table_html(t)}</div>{beside}</div>{below}"


def science_section(run: Path) -> str:
    order = list(SCIENCE)
    found = []
    for res in sorted((run / "science").glob("*/results.json")):
        r = read_json(res)
        if r is not None:
            kind = science_kind(res.parent.name, r)
            found.append((order.index(kind) if kind in SCIENCE else len(order), res.parent.name, kind, r, res.parent))
    if not found:
        return ""
    parts = []
    for _, name, kind, r, d in sorted(found, key=lambda x: x[:2]):
        try:
            content = science_body(kind, d, r) if kind in SCIENCE else other_body(d, r)
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):  # an older / foreign results.json
            content = "<p class='note'>results.json has an unexpected layout; its plots:</p>" + other_body(d, r)
        heading = SCIENCE[kind].heading if kind in SCIENCE else name
        parts.append(f"<h3 id='science-{esc(name)}'>{esc(heading)} <span class='tag'>science/{esc(name)}</span>"
                     f"</h3>{content}")  # fmt: skip
    return section("science", "World-model science", "".join(parts))
