"""One self-contained HTML page of a run: everything it has written, nothing recomputed.

    page = write_report(run)       # RUN/report.html (``out=`` elsewhere); ``build_report(run)`` -> the HTML text

Sections appear only for what exists under ``RUN``:

- the config (``config.yaml``, collapsible);
- training: ``plots/loss.png`` and the last logged metrics of ``metrics.csv``;
- evaluations: every ``eval/*/results.json`` (an overview table, then per evaluation the protocol,
  the planner, success with 95% intervals beside the baselines, ``success.png``,
  ``latent_distance.png`` and the rollout GIFs);
- world-model science: every ``science/*/results.json`` (rollout-error, probe, surprise, structure;
  their tables and plots; any other folder: its plots).

Images and GIFs are embedded as base64 ``data:`` URIs, so the file can be mailed or moved on its own.
"""

from __future__ import annotations

import base64
import csv
import datetime
import html
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jepaworld.config import atomic_write_text
from jepaworld.errors import JepaworldError

SCIENCE_ORDER = ("rollout-error", "probe", "surprise", "surprise-timeline", "offline-plan", "structure")
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


# -- helpers -----------------------------------------------------------------------------------------
def esc(x: Any) -> str:
    return html.escape(str(x), quote=True)


def num(x: Any, digits: int = 3) -> str:
    """A number for a table cell: '–' for None/NaN, scientific when tiny or huge."""
    if x is None:
        return "–"
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return esc(x)
    if isinstance(x, int):
        return f"{x:,}"
    if math.isnan(x):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if x != 0 and (abs(x) < 10**-digits or abs(x) >= 1e5):
        return f"{x:.1e}"
    return f"{x:.{digits}f}"


def sentence(text: Any) -> str:
    """Escaped ``text`` with its first letter capitalised and a full stop."""
    t = str(text).strip()
    t = t[:1].upper() + t[1:]
    return esc(t if t.endswith(".") else f"{t}.")


def pct(x: float) -> str:
    return "–" if x is None or math.isnan(x) else f"{100 * x:.0f}%"


def data_uri(path: Path) -> str | None:
    """``data:image/...;base64,...`` of a PNG / GIF / JPEG file; None when absent or not an image."""
    try:
        raw = path.read_bytes()
    except OSError:
        return None
    for magic, mime in ((b"\x89PNG\r\n\x1a\n", "image/png"), (b"GIF8", "image/gif"), (b"\xff\xd8\xff", "image/jpeg")):
        if raw.startswith(magic):
            return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"
    return None


def figure(path: Path, caption: str, cls: str = "") -> str:
    """An embedded image with its caption; '' when the file is absent."""
    uri = data_uri(path)
    if uri is None:
        return ""
    return (f'<figure class="{cls}"><img src="{uri}" alt="{esc(caption)}" title="{esc(path.name)}">'
            f"<figcaption>{esc(caption)}</figcaption></figure>")  # fmt: skip


def table(header: list[str], rows: list[list[str]], cls: str = "") -> str:
    """An HTML table; cells are HTML already (escape text with :func:`esc`)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{esc(anchor)}"><h2>{esc(title)}</h2>{body}</section>'


def read_json(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


# -- config and training -----------------------------------------------------------------------------
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
                cards.append(f"<div class='card'><div class='v'>{value}</div><div class='k'>{esc(k)}</div>"
                             f"<div class='what'>{esc(what)}</div></div>")  # fmt: skip
        parts.append("<p class='note'>Last logged values of <code>metrics.csv</code> (validation: the last "
                     f"validation pass).</p><div class='cards'>{''.join(cards)}</div>")  # fmt: skip
    parts.append(figure(run / "plots" / "loss.png", "training curves (plots/loss.png)", "wide"))
    body = "".join(p for p in parts if p)
    return section("training", "Training", body) if body else ""


# -- evaluations -------------------------------------------------------------------------------------
def planner_name(summary: dict[str, Any]) -> str | None:
    for name, s in summary.items():  # jepaworld.Agent's guarded mode plans too, but is not the planner
        if "world model" in name or (s.get("plans") and not _given(s.get("plans_per_episode"))):
            return name
    return None


def success_cell(s: dict[str, Any]) -> str:
    lo, hi = s["ci95"]
    return f"<b>{pct(s['success_rate'])}</b> <span class='ci'>[{pct(lo)}–{pct(hi)}]</span>"


def _given(x: Any) -> bool:
    return isinstance(x, (int, float)) and not math.isnan(x)


def summary_table(report: dict[str, Any]) -> str:
    rows = []
    planner = planner_name(report["summary"])
    agents = any(_given(s.get("plans_per_episode")) for s in report["summary"].values())  # `eval --agent`
    for name, s in report["summary"].items():
        plan = f"{num(s['plan_time_median_s'], 2)} / {num(s['plan_time_p90_s'], 2)}" if s.get("plans") else "–"
        label = f"<b>{esc(name)}</b>" if name == planner else esc(name)
        row = [label, success_cell(s), f"{s['successes']} / {s['episodes']}",
               num(s["mean_steps_to_success"], 1), num(s["mean_final_distance"], 1), plan]  # fmt: skip
        if agents:
            alarms = "–" if not _given(s.get("false_alarm_rate")) else pct(s["false_alarm_rate"]) + (
                f" ({pct(s['detection_rate'])} detected)" if _given(s.get("detection_rate")) else "")  # fmt: skip
            row += [num(s.get("plans_per_episode"), 2), num(s.get("model_calls_per_episode"), 0),
                    num(s.get("ms_per_episode"), 1), alarms]  # fmt: skip
        rows.append(row)
    header = ["method", "success [95% CI]", "episodes", "steps to success", "final distance", "plan s (median / p90)"]
    if agents:
        header += ["plans / episode", "model calls / episode", "ms / episode", "guard false alarms"]
    return table(header, rows, "num")


def eval_overview(reports: list[tuple[str, dict[str, Any]]]) -> str:
    methods: list[str] = []
    for _, r in reports:
        methods += [m for m in r["summary"] if m not in methods and m != planner_name(r["summary"])]
    rows = []
    for name, r in reports:
        planner = planner_name(r["summary"])
        p = r["protocol"]
        cells = [f"<a href='#eval-{esc(name)}'>{esc(name)}</a>", esc(p.get("description", "")),
                 success_cell(r["summary"][planner]) if planner else "–"]  # fmt: skip
        cells += [success_cell(r["summary"][m]) if m in r["summary"] else "–" for m in methods]
        rows.append(cells)
    return table(["evaluation", "protocol", "world-model planner", *map(esc, methods)], rows, "num overview")


def eval_block(name: str, d: Path, r: dict[str, Any], open_: bool) -> str:
    p, plan = r["protocol"], r.get("plan", {})
    facts = [
        f"<b>Protocol.</b> {esc(p.get('description', ''))}; {num(p.get('episodes'))} episodes "
        f"(seed {esc(p.get('seed'))}), {esc(p.get('env', ''))} at {esc(p.get('resolution', ''))} px; starts from "
        f"{esc(p.get('held_out', ''))}"
        + (f"; {p['redrawn']} start(s) already at the goal redrawn" if p.get("redrawn") else "")
        + ".",
        f"<b>Planner.</b> {esc(plan.get('description', plan.get('planner', '')))}"
        + (f"; {num(r['planner_wall_s'], 0)} s planning in all" if r.get("planner_wall_s") is not None else "")
        + ".",
        f"<b>Checkpoint.</b> <code>{esc(r.get('checkpoint', ''))}</code>",
    ]
    parts = ["".join(f"<p>{f}</p>" for f in facts), summary_table(r)]
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


def eval_section(run: Path) -> str:
    found = []
    for res in sorted((run / "eval").glob("*/results.json")):
        r = read_json(res)
        if r and isinstance(r.get("summary"), dict) and isinstance(r.get("protocol"), dict):
            found.append((res.parent.name, r, res.parent))
    if not found:
        return ""
    found.sort(key=lambda x: (x[0] != "published-protocol", x[0]))  # the demo's own evaluation first
    body = (f"<p>{len(found)} evaluation(s) under <code>eval/</code>. Success of the world-model planner beside "
            "the baselines, with 95% (Wilson) intervals.</p>" + eval_overview([(n, r) for n, r, _ in found])
            + "".join(eval_block(n, d, r, i == 0) for i, (n, r, d) in enumerate(found)))  # fmt: skip
    return section("eval", "Evaluations", body)


# -- science -----------------------------------------------------------------------------------------
def science_kind(name: str, r: dict[str, Any]) -> str:
    if name in SCIENCE_ORDER:
        return name
    if "horizons" in r and "errors" in r:
        return "rollout-error"
    if "scores" in r and "ridge_lambda" in r:
        return "probe"
    if "event_step" in r and "stats" in r:
        return "surprise"
    if "straightening" in r and "pca" in r:
        return "structure"
    if "timelines" in r and "peaks" in r:
        return "surprise-timeline"
    if "rows" in r and "wins" in r:
        return "offline-plan"
    return "other"


def rollout_error_body(d: Path, r: dict[str, Any]) -> str:
    names = list(r["errors"])
    rows = []
    for i, k in enumerate(r["horizons"]):
        vals = [r["errors"][n][i] for n in names]
        best = min(r["errors"][n][i] for n in names if n != "world model")
        model = r["errors"].get("world model", [math.nan] * len(r["horizons"]))[i]
        rows.append([str(k), *(num(v, 4) for v in vals), num(model / best if best else math.nan, 3)])
    t = table(["horizon", *map(esc, names), "model / best baseline"], rows, "num compact")
    text = f"<p>{sentence(r['protocol']['description'])}</p><p><b>World model:</b> {esc(r.get('verdict', ''))}.</p>"
    fig = figure(d / "rollout_error.png", "open-loop error vs horizon (±1.96 standard errors)")
    return f"{text}<div class='grid'><div>{t}</div>{fig}</div>"


def probe_body(d: Path, r: dict[str, Any]) -> str:
    scores = r["scores"]
    published = any(s.get("published_mlp_r") is not None for s in scores)
    header = ["quantity", "linear r", "linear MSE", "MLP r", "MLP MSE"]
    if published:
        header += ["published linear r", "published MLP r"]
    rows, notes = [], []
    for s in scores:
        row = [esc(s["quantity"]), num(s["linear_r"], 4), num(s["linear_mse"], 4), num(s["mlp_r"], 4),
               num(s["mlp_mse"], 4)]  # fmt: skip
        if published:
            row += [num(s.get("published_linear_r")), num(s.get("published_mlp_r"))]
        rows.append(row)
        for k, v in (s.get("extra") or {}).items():
            notes.append(f"{esc(s['quantity'])}: median angle error {'MLP' if k.startswith('mlp') else 'linear'} "
                         f"{v:.1f}°")  # fmt: skip
    p = r["protocol"]
    ridge = f"; ridge penalty {num(r['ridge_lambda'])}"
    text = (f"<p>{sentence(p['description'] + ridge)}</p>"
            + "".join(f"<p>{n}</p>" for n in notes)
            + ("<p class='note'>Published: LeWM on Push-T (SPEC, 'Probing').</p>" if published else ""))  # fmt: skip
    fig = figure(d / "probes.png", "predicted vs true state (z-scored), held-out frames")
    return f"<div class='grid'><div>{text}{table(header, rows, 'num')}</div>{fig}</div>"


def surprise_body(d: Path, r: dict[str, Any]) -> str:
    p, k = r["protocol"], r["event_step"]
    what = {"teleport": f"teleport ({p.get('teleported', '')})", "recolour": "recolour (RGB → BGR)"}
    rows = [[esc(what.get(s["kind"], s["kind"])), num(s["event_mean"]), num(s["control_mean"]), num(s["ratio"], 1),
             num(s["t"], 2), num(s["p_two_sided"]), num(s["cohens_d"], 2), num(s["auroc"])]
            for s in r["stats"]]  # fmt: skip
    t = table(["perturbation", f"surprise at frame {k}", "unperturbed", "ratio", "paired t", "p (two-sided)",
               "Cohen's d", "AUROC"], rows, "num")  # fmt: skip
    text = (
        f"<p>{sentence(p['description'])}</p><p>Control: AUROC of frame {k} within the unperturbed trajectories "
        f"{num(r.get('control_auroc'))} (0.5 = no signal).</p>"
    )
    fig = figure(d / "surprise.png", "mean surprise per frame (95% intervals); dotted: the event")
    return f"{text}{t}{fig}"


def structure_body(d: Path, r: dict[str, Any]) -> str:
    ev = r["pca"]["explained_variance_ratio"]
    fits = r["pca"].get("state_r2") or {}
    r2 = ("; an affine fit from the two recovers R&sup2; " + ", ".join(f"{num(v, 2)} of {esc(k)}" for k, v in
                                                                       fits.items())) if fits else ""  # fmt: skip
    rows = [[esc(name), f"<b>{num(s['curvature_deg'], 1)}°</b>", f"{num(s['median_deg'], 1)}°", num(s["mean_cos"]),
             num(s["triples"]), num(s["skipped"])] for name, s in r["straightening"].items()]  # fmt: skip
    t = table(["space", "curvature (mean angle)", "median angle", "mean cos", "triples", "skipped"], rows, "num")
    text = (
        f"<p>{sentence(r['protocol']['description'])}</p><p>The two leading principal components hold "
        f"{100 * ev[0]:.1f}% and {100 * ev[1]:.1f}% of the embedding variance{r2}. Curvature 0&deg;: a straight path; "
        "90&deg;: a right-angle zig-zag; skipped: triples where a displacement is zero (nothing moved).</p>"
    )
    pca = figure(d / "pca.png", "held-out embeddings on their first two principal components, coloured by the "
                                "true state", "wide")  # fmt: skip
    straight = figure(d / "straightening.png", "angles between consecutive displacements per space")
    return f"{text}<div class='grid'><div>{t}</div>{straight}</div>{pca}"


def other_body(d: Path, r: dict[str, Any]) -> str:
    desc = (r.get("protocol") or {}).get("description") if isinstance(r.get("protocol"), dict) else None
    figs = "".join(figure(p, p.name) for p in sorted(d.glob("*.png")))
    return (f"<p>{sentence(desc)}</p>" if desc else "") + figs


def offline_body(kind: str) -> Callable[[Path, dict[str, Any]], str]:
    """The offline evaluation's sections (``eval/offline_report.py``, which builds on this module's helpers)."""

    def body(d: Path, r: dict[str, Any]) -> str:
        from jepaworld.eval import offline_report

        return getattr(offline_report, kind)(d, r)

    return body


SCIENCE: dict[str, tuple[str, Callable[[Path, dict[str, Any]], str]]] = {
    "rollout-error": ("Open-loop rollout error", rollout_error_body),
    "probe": ("Probes: the state from frozen embeddings", probe_body),
    "surprise": ("Surprise: violation of expectation", surprise_body),
    "structure": ("Latent structure: PCA and temporal straightening", structure_body),
    "surprise-timeline": ("Surprise along held-out episodes", offline_body("surprise_timeline_body")),
    "offline-plan": ("Offline planning check: planned vs logged actions", offline_body("offline_plan_body")),
    "other": ("", other_body),
}


def science_section(run: Path) -> str:
    found = []
    for res in sorted((run / "science").glob("*/results.json")):
        r = read_json(res)
        if r is not None:
            kind = science_kind(res.parent.name, r)
            order = SCIENCE_ORDER.index(kind) if kind in SCIENCE_ORDER else len(SCIENCE_ORDER)
            found.append((order, res.parent.name, kind, r, res.parent))
    if not found:
        return ""
    parts = []
    for _, name, kind, r, d in sorted(found, key=lambda x: x[:2]):
        title, body = SCIENCE[kind]
        try:
            content = body(d, r)
        except (KeyError, TypeError, ValueError, IndexError, ZeroDivisionError):  # an older / foreign results.json
            content = "<p class='note'>results.json has an unexpected layout; its plots:</p>" + other_body(d, r)
        parts.append(f"<h3 id='science-{esc(name)}'>{esc(title or name)} <span class='tag'>science/{esc(name)}</span>"
                     f"</h3>{content}")  # fmt: skip
    return section("science", "World-model science", "".join(parts))


# -- the page ----------------------------------------------------------------------------------------
STYLE = """
:root{--fg:#1d2330;--muted:#5b6472;--line:#d9dee7;--bg:#f6f7f9;--accent:#2b5fad}
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:var(--fg);
  margin:0;background:var(--bg)}
main{max-width:1240px;margin:0 auto;padding:20px 28px 60px;background:#fff;min-height:100vh}
header h1{margin:0 0 4px;font-size:26px}
header p{margin:0;color:var(--muted)}
nav{margin:14px 0 4px;display:flex;gap:8px;flex-wrap:wrap}
nav a{padding:3px 10px;border:1px solid var(--line);border-radius:14px;text-decoration:none;color:var(--accent);
  font-size:13px}
section{margin-top:28px;border-top:1px solid var(--line);padding-top:6px}
h2{font-size:21px;margin:10px 0}
h3{font-size:17px;margin:26px 0 8px}
.tag{font-size:12px;font-weight:normal;color:var(--muted);margin-left:6px;font-family:ui-monospace,monospace}
p{margin:6px 0}
.note{color:var(--muted);font-size:13.5px}
code,pre{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12.5px}
pre{background:var(--bg);padding:10px 14px;border:1px solid var(--line);border-radius:6px;max-height:480px;
  overflow:auto}
details{border:1px solid var(--line);border-radius:6px;padding:6px 14px;margin:10px 0}
details>summary{cursor:pointer;font-weight:600;padding:2px 0}
details[open]>summary{margin-bottom:6px}
table{border-collapse:collapse;margin:10px 0;font-size:13.5px}
th,td{border-bottom:1px solid var(--line);padding:4px 10px;vertical-align:top}
th{text-align:left;background:var(--bg);font-weight:600}
table.num td{text-align:right;white-space:nowrap}
table.num td:first-child{text-align:left}
table.overview td:nth-child(2){white-space:normal;text-align:left;min-width:260px;color:var(--muted)}
table.compact td,table.compact th{padding:2px 8px}
.ci{color:var(--muted);font-size:12px}
figure{margin:10px 0;text-align:center}
figure img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figcaption{font-size:12.5px;color:var(--muted);margin-top:2px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(440px,1fr));gap:18px;align-items:start}
.grid>div{overflow-x:auto}
.grid.two{grid-template-columns:repeat(2,minmax(0,1fr))}
.gifs{display:flex;flex-wrap:wrap;gap:10px 14px}
.gifs figure{margin:2px 0}
.gifs img{width:256px;image-rendering:pixelated}
.cards{display:grid;grid-template-columns:repeat(auto-fill,minmax(165px,1fr));gap:8px;margin:10px 0 14px}
.card{border:1px solid var(--line);border-radius:6px;padding:6px 10px;background:#fbfcfd}
.card .v{font-size:18px;font-weight:600}
.card .k{font-family:ui-monospace,monospace;font-size:12px;color:var(--accent)}
.card .what{font-size:11.5px;color:var(--muted);line-height:1.25}
footer{margin-top:40px;color:var(--muted);font-size:12px}
"""


def run_title(run: Path) -> str:
    """``parent/name`` of the run folder (``runs/demo/run`` -> ``demo/run``): ``run`` alone says little."""
    r = run.resolve()
    return f"{r.parent.name}/{r.name}" if r.parent.name else r.name


def header(run: Path) -> str:
    facts = []
    cfg = run / "config.yaml"
    if cfg.exists():
        try:
            import yaml

            c = yaml.safe_load(cfg.read_text()) or {}
            data, model = c.get("data", {}), c.get("model", {})
            facts += [f"env {data.get('env', '?')}", f"{data.get('resolution', '?')} px",
                      f"{model.get('encoder', '?')} encoder, {model.get('embed_dim', '?')}-dim embeddings",
                      f"frameskip {data.get('frameskip', '?')}, history {data.get('history', '?')}"]  # fmt: skip
        except Exception:  # noqa: BLE001 - a header fact is not worth failing the report for
            pass
    m = last_metrics(run / "metrics.csv")
    if "step" in m:
        facts.append(f"{int(m['step']):,} training steps")
    when = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
    return (
        f"<header><h1>jepaworld report: {esc(run_title(run))}</h1><p>{esc(' · '.join(facts))}</p>"
        f"<p class='note'><code>{esc(run.resolve())}</code> · generated {when}</p></header>"
    )


def build_report(run: str | Path) -> str:
    """The report of ``RUN`` as one HTML string (images embedded as data URIs)."""
    run = Path(run)
    if not run.is_dir():
        raise JepaworldError(f"{run} is not a folder; pass a run folder from `jepaworld train`")
    sections = {
        "Config": config_section(run),
        "Training": training_section(run),
        "Evaluations": eval_section(run),
        "World-model science": science_section(run),
    }
    present = {k: v for k, v in sections.items() if v}
    if not present:
        raise JepaworldError(f"{run} has no config.yaml, metrics.csv, eval/ or science/ results; is it a run folder?")
    anchors = {"Config": "config", "Training": "training", "Evaluations": "eval", "World-model science": "science"}
    nav = "".join(f"<a href='#{anchors[k]}'>{esc(k)}</a>" for k in present)
    body = f"<main>{header(run)}<nav>{nav}</nav>{''.join(present.values())}<footer>jepaworld report</footer></main>"
    head = (
        f"<meta charset='utf-8'><meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>jepaworld report: {esc(run_title(run))}</title><style>{STYLE}</style>"
    )
    return f"<!doctype html><html lang='en'><head>{head}</head><body>{body}</body></html>"


def write_report(run: str | Path, out: str | Path | None = None) -> Path:
    """Write the report of ``RUN`` to ``out`` (default ``RUN/report.html``) atomically; returns its path."""
    # pure ASCII (non-ASCII as character references): the bytes read the same under any locale's encoding
    page = build_report(run).encode("ascii", "xmlcharrefreplace").decode("ascii")
    path = Path(out) if out else Path(run) / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, page)
    return path
