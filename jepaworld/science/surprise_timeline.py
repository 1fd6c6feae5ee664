"""Surprise timelines: where, along each held-out episode, the world behaved unlike the model expected.

    result = surprise_timelines(wm, episodes=8)     # measures; writes nothing
    write_surprise_timelines(result, out)            # results.json, surprise_timelines.png

Needs no simulator (recorded episodes, e.g. imported from LeRobot). Each episode is read as the model
was trained: frames ``frameskip`` steps apart with the action block between them; the surprise of
frame ``t`` is ``||z_hat_t - z_t||^2`` (``surprise_signal``). Peaks are ranked by a robust z-score
against all timelines pooled: ``(s - median) / (1.4826 * MAD)``.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.errors import JepaworldError
from jepaworld.science.common import Progress, checkpoint_name, held_out, write_result
from jepaworld.science.surprise import surprise_signal

PEAKS = 10


@dataclass
class TimelineResult:
    """``timelines``: per episode ``{episode, task, steps, seconds, surprise}`` (surprise of frames 1..T-1);
    ``peaks``: the ``PEAKS`` most surprising frames of all, with their robust z-scores."""

    protocol: dict[str, Any]
    checkpoint: str
    timelines: list[dict[str, Any]]
    peaks: list[dict[str, Any]]
    median: float
    mad: float
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _tasks(f) -> tuple[list[str], np.ndarray | None]:
    attrs = f.attrs
    if "tasks" in attrs and "ep_task" in f.file:
        return json.loads(attrs["tasks"]), f.file["ep_task"][...]
    return [], None


def surprise_timelines(model: Any, episodes: int = 8, seed: int = 0, data_path: str | None = None,
                       progress: Progress | None = None) -> TimelineResult:  # fmt: skip
    """Per-step surprise along up to ``episodes`` held-out episodes (module docstring); writes nothing."""
    t0 = time.perf_counter()
    meta = model.meta
    fs = meta.frameskip
    f, ids, where = held_out(model, data_path, episodes, seed)
    fps = f.attrs.get("fps")
    tasks, ep_task = _tasks(f)
    ep_len, ep_off = f.ep_len, f.ep_offset
    timelines = []
    for n, e in enumerate(ids):
        length, o = int(ep_len[e]), int(ep_off[e])
        k = (length - 1) // fs  # blocks in the episode
        if k < 1:
            continue
        rows = o + fs * np.arange(k + 1)
        frames = f.pixels[rows[0] : rows[-1] + 1 : fs]
        actions = f.action[o : o + k * fs]
        s = surprise_signal(model, frames, actions)
        steps = (fs * np.arange(1, k + 1)).tolist()
        timelines.append({
            "episode": int(e), "task": tasks[int(ep_task[e])] if ep_task is not None and ep_task[e] >= 0 else None,
            "steps": steps, "seconds": [s_ / float(fps) for s_ in steps] if fps else None,
            "surprise": [float(v) for v in s],
        })  # fmt: skip
        if progress:
            progress("surprise along episodes", n + 1, len(ids))
    if not timelines:
        raise JepaworldError(f"no held-out episode is longer than one block of {fs} steps; nothing to score")
    pooled = np.concatenate([t["surprise"] for t in timelines])
    med = float(np.median(pooled))
    mad = float(np.median(np.abs(pooled - med))) or float(pooled.std()) or 1.0
    scored = [(v, t, i) for t in timelines for i, v in enumerate(t["surprise"])]
    scored.sort(key=lambda x: -x[0])
    peaks = [{"episode": t["episode"], "task": t["task"], "step": t["steps"][i],
              "seconds": t["seconds"][i] if t["seconds"] else None, "surprise": v,
              "robust_z": (v - med) / (1.4826 * mad)} for v, t, i in scored[:PEAKS]]  # fmt: skip
    protocol = {
        "env": meta.env, "held_out": where, "episodes": len(timelines), "frameskip": fs, "history": meta.history,
        "fps": float(fps) if fps else None, "seed": seed,
        "description": (
            f"surprise ||z_hat_t - z_t||^2 of every frame {fs} steps apart along {len(timelines)} held-out episodes, "
            f"predicted from the model's {meta.history} previous frame(s) and the recorded action block; peaks "
            "ranked by robust z-score over all frames pooled"
        ),
    }  # fmt: skip
    return TimelineResult(protocol, checkpoint_name(model), timelines, peaks, med, mad, time.perf_counter() - t0)


def write_surprise_timelines(result: TimelineResult, out: str | Path) -> Path:
    """``OUT/results.json`` and ``OUT/surprise_timelines.png``; returns the results path."""
    return write_result(result.to_dict(), out, {"surprise_timelines.png": plot_timelines})


def plot_timelines(r: dict[str, Any], out_png: Path) -> Path:
    """One panel per episode (up to 8): surprise against time, the pooled median and the peaks marked (``r``: a
    ``TimelineResult.to_dict()``)."""
    import matplotlib.pyplot as plt

    from jepaworld.figures import save_figure

    shown = r["timelines"][:8]
    fig, axes = plt.subplots(len(shown), 1, figsize=(7.5, 1.5 * len(shown) + 0.6), sharex=True, squeeze=False)
    peaks = {(p["episode"], p["step"]) for p in r["peaks"]}
    seconds = r["protocol"].get("fps") is not None
    for ax, t in zip(axes[:, 0], shown, strict=False):
        x = np.asarray(t["seconds"] if seconds else t["steps"])
        y = np.asarray(t["surprise"])
        ax.plot(x, y, color="C0", lw=1.2)
        ax.axhline(r["median"], color="C7", ls=":", lw=1)
        hit = np.array([(t["episode"], s) in peaks for s in t["steps"]])
        if hit.any():
            ax.scatter(x[hit], y[hit], color="C3", s=14, zorder=3)
        ax.set_ylabel(f"ep {t['episode']}", fontsize=8)
        if t["task"]:
            ax.set_title(t["task"], fontsize=8, loc="left")
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("time (s)" if seconds else "env step")
    fig.suptitle(f"surprise along held-out episodes ({r['protocol']['env']}); red: the top {len(r['peaks'])}",
                 fontsize=10)  # fmt: skip
    return save_figure(fig, out_png)
