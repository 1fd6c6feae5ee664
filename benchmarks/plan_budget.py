"""Success vs planning budget (samples x iterations) for CEM and MPPI on a trained checkpoint.

    python benchmarks/plan_budget.py --ckpt runs/demo/run [--episodes 50] [--out budget.png]
        [--grid 30x1,100x1,30x3,100x3,300x3] [--subset cross-wall] [--set plan.receding=5 ...]

Every point runs the same episodes (the published protocol unless --subset / --goal-offset) with
the run's planner settings (after --set) at each samples x iterations; the figure shows how cheap
a plan can be before success drops, with 95% Wilson intervals.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict, replace
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402

import jepaworld  # noqa: E402
from jepaworld.config.io import parse_overrides, update  # noqa: E402
from jepaworld.eval import evaluate  # noqa: E402


def parse_grid(text: str) -> list[tuple[int, int]]:
    """"30x1,100x3" -> [(30, 1), (100, 3)]."""
    try:
        return [(int(s), int(i)) for s, i in (item.lower().split("x") for item in text.split(","))]
    except ValueError:
        raise SystemExit(
            f"--grid wants SAMPLESxITERATIONS items separated by commas, e.g. 30x1,100x3; got {text!r}"
        ) from None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--episodes", type=int, default=50)
    ap.add_argument("--out", default="plan_budget.png")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--grid", default="30x1,100x1,30x3,100x3,300x3", help="samples x iterations points")
    ap.add_argument("--subset", default="all")
    ap.add_argument("--goal-offset", type=int, default=25)
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="section.key=value")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wm = jepaworld.load(args.ckpt, device="cpu")
    cfg = update(wm.config, parse_overrides(args.overrides), source="--set")
    ev = replace(cfg.eval, episodes=args.episodes, videos=0, subset=args.subset,
                 goal_offset=args.goal_offset, budget=2 * args.goal_offset)  # fmt: skip
    print(f"planner settings: receding {cfg.plan.receding}, cost {cfg.plan.cost}, noise {cfg.plan.noise}; "
          f"episodes: {ev.subset}, goal +{ev.goal_offset}, budget {ev.budget}", flush=True)  # fmt: skip
    rows = []
    print(f"{'planner':<6} {'samples x iters':>16} {'success':>8} {'95% CI':>10} {'s/plan/env':>10}")
    for planner in ("cem", "mppi"):
        for samples, iters in parse_grid(args.grid):
            plan = replace(cfg.plan, planner=planner, samples=samples, iterations=iters,
                           elites=max(3, samples // 10))  # fmt: skip
            result = evaluate(wm, plan, ev, baselines=False)  # nothing written: no temporary folder
            s = asdict(result.summary[result.planner])
            per_env = s["plan_time_median_s"] / s["envs_per_plan"]
            rows.append({"planner": planner, "samples": samples, "iterations": iters, **s, "s_per_env": per_env})
            lo, hi = s["ci95"]
            print(f"{planner:<6} {samples:>8} x {iters:<5} {100 * s['success_rate']:>7.0f}% "
                  f"{100 * lo:>4.0f}-{100 * hi:<4.0f}% {per_env:>10.3f}", flush=True)  # fmt: skip
    fig, ax = plt.subplots(figsize=(7, 4.5))
    for planner, color in (("cem", "tab:blue"), ("mppi", "tab:green")):
        pts = [r for r in rows if r["planner"] == planner]
        nudge = 1.06 if planner == "mppi" else 1 / 1.06  # side by side where budgets coincide
        xs = [r["samples"] * r["iterations"] * nudge for r in pts]
        ys = [100 * r["success_rate"] for r in pts]
        lo = [100 * (r["success_rate"] - r["ci95"][0]) for r in pts]
        hi = [100 * (r["ci95"][1] - r["success_rate"]) for r in pts]
        err = [lo, hi]
        ax.errorbar(xs, ys, yerr=err, marker="o", capsize=3, label=planner, color=color, ls="none")
        for r, x, y in zip(pts, xs, ys, strict=True):
            label = f"{r['samples']}x{r['iterations']}"
            ax.annotate(label, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("samples x iterations per plan")
    ax.set_ylabel("success (%)")
    ax.set_title(
        f"{wm.meta.env}, goal +{ev.goal_offset} ({ev.subset}), {args.episodes} episodes;"
        f" re-plan every {cfg.plan.receding} blocks, {cfg.plan.cost} cost"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    Path(args.out).with_suffix(".json").write_text(json.dumps(rows, indent=2))
    print(f"plot: {args.out}")


if __name__ == "__main__":
    main()
