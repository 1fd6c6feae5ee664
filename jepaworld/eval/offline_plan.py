"""Offline planning check: plan on recorded episodes, with no simulator to execute the plan in.

    result = offline_plan(wm, pairs=50)        # measures; writes nothing
    write_offline_plan(result, out)             # results.json, offline_plan.png

The published protocol's start and goal, kept: a start frame ``t`` on a held-out episode and the goal
frame ``goal_offset`` steps later on the same episode (default ``plan.horizon`` blocks of
``frameskip`` steps: 25 steps for the presets). The run's own planner (``plan`` settings, CEM by
default) plans ``goal_offset / frameskip`` blocks from the start's history toward the goal's
embedding, within the box of the recorded actions. Since nothing executes the plan, it is compared
with what was recorded:

- *first block*: the planned first action block against the logged one (MSE in z-scored action
  units, and the cosine of their mean actions: 1 = same direction);
- *whole plan*: the same MSE over every block;
- *end embedding*: the model's rollout of the plan, its last embedding against the goal's
  (squared distance / (D * variance of z over the pairs' frames), as rollout-error normalises).

Beside the planner: **logged mean**, every action the training set's mean (the copy-the-logged-mean
baseline: 0 in z-scored units); **logged actions**, the recorded actions themselves (action errors
0 by definition; their end error is what the model's rollout of the truth reaches); **stay**, the
start embedding taken as the end (no rollout). The planner minimises the end distance, so its end
error is expected lowest; the action columns are the independent check: a planner that recovers the
recorded behaviour beats the mean baseline there.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.config import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.science.common import Progress, checkpoint_name, encode, held_out, write_result

METHODS = ("planner", "logged mean", "logged actions", "stay")
METRICS = ("first_block_mse", "first_block_cos", "plan_mse", "end_error")


@dataclass
class OfflinePlanResult:
    """``rows[method][metric]``: mean over pairs; ``stderr`` the same layout; ``wins``: the share of pairs where
    the planner is closer than the logged-mean baseline, per metric."""

    protocol: dict[str, Any]
    checkpoint: str
    rows: dict[str, dict[str, float | None]]
    stderr: dict[str, dict[str, float | None]]
    wins: dict[str, float]
    z_variance: float
    plan_seconds: float
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def draw_pairs(ep_len: np.ndarray, ids: list[int], n: int, before: int, offset: int,
               seed: int) -> list[tuple[int, int]]:  # fmt: skip
    """``n`` (episode, start step) pairs: ``before`` steps of history before the start, ``offset`` after it."""
    fits = [e for e in ids if int(ep_len[e]) - 1 - before - offset >= 0]
    if not fits:
        longest = int(max(ep_len[e] for e in ids)) if ids else 0
        raise JepaworldError(
            f"no held-out episode holds a start with {before} steps of history and a goal {offset} steps later "
            f"(needs {before + offset + 1} frames; the longest has {longest}); lower --goal-offset"
        )
    rng = np.random.default_rng(seed)
    eps = rng.choice(fits, n, replace=True)
    return [(int(e), int(rng.integers(before, int(ep_len[e]) - offset))) for e in eps]


def _cos(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    na, nb = np.linalg.norm(a, axis=-1), np.linalg.norm(b, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        c = (a * b).sum(-1) / (na * nb)
    return np.where((na > 1e-9) & (nb > 1e-9), c, np.nan)


def offline_plan(model: Any, pairs: int = 50, goal_offset: int | None = None, seed: int = 0,
                 data_path: str | None = None, plan: PlanConfig | None = None, batch: int = 25,
                 progress: Progress | None = None) -> OfflinePlanResult:  # fmt: skip
    """Plan from held-out starts toward goals ``goal_offset`` steps later and compare (module docstring)."""
    from jepaworld.plan.mpc import LatentMPC

    t0 = time.perf_counter()
    meta = model.meta
    fs, h, A = meta.frameskip, meta.history, meta.action_dim
    cfg = PlanConfig(**asdict(plan or model.config.plan))
    offset = goal_offset if goal_offset is not None else cfg.horizon * fs
    if offset < fs or offset % fs:
        raise JepaworldError(f"--goal-offset must be a positive multiple of the frame-skip {fs}, got {offset}")
    H = offset // fs
    cfg.horizon, cfg.receding = H, H
    if pairs < 2:
        raise JepaworldError(f"--pairs must be >= 2, got {pairs}")
    f, ids, where = held_out(model, data_path, 10**9, seed)
    ep_len, ep_off = f.ep_len, f.ep_offset
    chosen = draw_pairs(ep_len, ids, pairs, (h - 1) * fs, offset, seed)
    actions = f.action[...]
    real = np.ones(len(actions), bool)
    real[ep_off + ep_len - 1] = False  # jepaworld's own files pad each episode's last action with zeros
    low, high = actions[real].min(0), actions[real].max(0)
    mpc = LatentMPC(model, meta, cfg, low, high, seed=seed)
    norm = meta.normalizer
    device = next(model.parameters()).device

    out: dict[str, dict[str, list[np.ndarray]]] = {m: {k: [] for k in METRICS} for m in METHODS}
    z_seen, plan_s = [], 0.0
    for i in range(0, len(chosen), batch):
        part = chosen[i : i + batch]
        starts = np.array([ep_off[e] + t for e, t in part])
        hist_rows = starts[:, None] - fs * np.arange(h - 1, -1, -1)[None]  # (B, h)
        goal_rows = starts + offset
        uniq, inverse = np.unique(np.concatenate([hist_rows.reshape(-1), goal_rows]), return_inverse=True)
        z = encode(model, f.pixels[uniq])[torch.as_tensor(inverse, device=device)]
        B = len(part)
        z_hist, z_goal = z[: B * h].reshape(B, h, -1), z[B * h :]
        z_seen.append(z.double().cpu().numpy())
        a_rows = hist_rows[:, :1] + np.arange((h - 1) * fs + offset)[None]  # from the first history frame
        raw = actions[a_rows].reshape(B, -1, fs * A)  # (B, h - 1 + H, fs*A)
        blocks = torch.as_tensor(norm.normalize_action(raw), device=device, dtype=torch.float32)
        hist_blocks, logged = blocks[:, : h - 1], blocks[:, h - 1 :]
        t1 = time.perf_counter()
        planned = mpc.plan_latent(z_hist, z_goal, hist_blocks if h > 1 else None).actions.float()
        plan_s += time.perf_counter() - t1
        candidates = {"planner": planned, "logged mean": torch.zeros_like(logged), "logged actions": logged}
        lg = logged.cpu().numpy().astype(np.float64)
        zg = z_goal.double().cpu().numpy()
        for name, acts in candidates.items():
            a = acts.detach().cpu().numpy().astype(np.float64)
            with torch.inference_mode():
                end = model.rollout(z_hist, acts.detach(), hist_blocks if h > 1 else None)[:, -1]
            end = end.double().cpu().numpy()
            out[name]["first_block_mse"].append(((a[:, 0] - lg[:, 0]) ** 2).mean(-1))
            out[name]["plan_mse"].append(((a - lg) ** 2).mean((-1, -2)))
            mean_first = norm.denormalize_action(a[:, 0].reshape(B, fs, A)).mean(1) - norm.action_mean
            mean_logged = norm.denormalize_action(lg[:, 0].reshape(B, fs, A)).mean(1) - norm.action_mean
            cos = _cos(mean_first, mean_logged) if name != "logged mean" else np.full(B, np.nan)  # no direction
            out[name]["first_block_cos"].append(cos)
            out[name]["end_error"].append(((end - zg) ** 2).sum(-1))
        zs = z_hist[:, -1].double().cpu().numpy()
        out["stay"]["end_error"].append(((zs - zg) ** 2).sum(-1))
        for k in ("first_block_mse", "first_block_cos", "plan_mse"):
            out["stay"][k].append(np.full(B, np.nan))
        if progress:
            progress("offline plans", min(i + batch, len(chosen)), len(chosen))

    zall = np.concatenate(z_seen)
    var = float(zall.var(0).mean())
    D = zall.shape[1]
    rows_: dict[str, dict[str, float | None]] = {}
    ses: dict[str, dict[str, float | None]] = {}
    per: dict[str, dict[str, np.ndarray]] = {}
    for m in METHODS:
        rows_[m], ses[m], per[m] = {}, {}, {}
        for k in METRICS:
            v = np.concatenate(out[m][k])
            if k == "end_error":
                v = v / (D * var)
            per[m][k] = v
            ok = v[np.isfinite(v)]
            rows_[m][k] = float(ok.mean()) if len(ok) else None
            ses[m][k] = float(ok.std(ddof=1) / math.sqrt(len(ok))) if len(ok) > 1 else None
    wins: dict[str, float] = {}
    for k in ("first_block_mse", "plan_mse", "end_error"):
        wins[k] = float(np.mean(per["planner"][k] < per["logged mean"][k]))
    protocol = {
        "env": meta.env, "held_out": where, "pairs": len(chosen), "episodes": len({e for e, _ in chosen}),
        "goal_offset": offset, "horizon_blocks": H, "frameskip": fs, "history": h, "seed": seed,
        "planner": cfg.describe(), "action_box": [low.tolist(), high.tolist()],
        "description": (
            f"{len(chosen)} start/goal pairs from {len({e for e, _ in chosen})} held-out episodes, goal {offset} steps "
            f"({H} blocks) after the start; {cfg.planner} plans toward the goal's embedding within the recorded "
            "actions' box; action errors in z-scored units against the logged actions (first block, whole plan), "
            "cosine of the first block's mean action with the logged one; end error = ||rollout end - z_goal||^2 / "
            "(D * variance of z); logged mean = the copy-the-logged-mean baseline"
        ),
    }  # fmt: skip
    return OfflinePlanResult(protocol, checkpoint_name(model), rows_, ses, wins, var, plan_s,
                             time.perf_counter() - t0)  # fmt: skip


def write_offline_plan(result: OfflinePlanResult, out: str | Path) -> Path:
    """``OUT/results.json`` and ``OUT/offline_plan.png``; returns the results path."""
    return write_result(result.to_dict(), out, {"offline_plan.png": plot_offline_plan})


def plot_offline_plan(r: dict[str, Any], out_png: Path) -> Path:
    """Bars per method: first-block action MSE and end-embedding error (+-1.96 standard errors) (``r``: an
    ``OfflinePlanResult.to_dict()``)."""
    import matplotlib.pyplot as plt

    from jepaworld.figures import save_figure

    fig, axes = plt.subplots(1, 2, figsize=(8.5, 3.4))
    for ax, (k, label) in zip(axes, (("first_block_mse", "first-block action MSE (z-scored)"),
                                     ("end_error", "end embedding error / variance")), strict=True):  # fmt: skip
        names = [m for m in METHODS if r["rows"][m][k] is not None]
        vals = [r["rows"][m][k] for m in names]
        errs = [1.96 * (r["stderr"][m][k] or 0) for m in names]
        ax.bar(names, vals, yerr=errs, color=[f"C{i}" for i in range(len(names))], capsize=3)
        ax.set_title(label, fontsize=9)
        ax.tick_params(axis="x", labelsize=8, rotation=15)
        ax.grid(alpha=0.3, axis="y")
    fig.suptitle(f"offline planning check ({r['protocol']['env']}, {r['protocol']['pairs']} pairs)", fontsize=10)
    return save_figure(fig, out_png)
