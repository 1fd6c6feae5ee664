"""One self-contained HTML page of a run: everything it has written, nothing recomputed.

    page = write_report(run)       # RUN/report.html (``out=`` elsewhere); ``build_report(run)`` -> the HTML text

Sections appear only for what exists under ``RUN``: the config and training (``training.py``), the
evaluations (``evals.py``) and the world-model science (``science.py``). Images and GIFs are embedded as
base64 ``data:`` URIs, so the file can be mailed or moved on its own.
"""

from __future__ import annotations

import datetime
from pathlib import Path

from jepaworld.atomic import atomic_write_text
from jepaworld.errors import JepaworldError
from jepaworld.report.evals import eval_section
from jepaworld.report.html import esc
from jepaworld.report.science import science_section
from jepaworld.report.training import config_section, last_metrics, training_section

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
table.num td.l{text-align:left}
caption{caption-side:top;text-align:left;font-size:12.5px;color:var(--muted);padding:0 0 4px}
table.overview td:nth-child(2){white-space:normal;min-width:260px;color:var(--muted)}
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
