"""The violation-of-expectation test on the surprise signal (``jepaworld.model.surprise``).

The test (``surprise_test`` / ``write_surprise``, ``jepaworld surprise``) compares matched trajectories
(``jepaworld.science.perturb``): surprise at the event step of a teleported or recoloured trajectory
against the same step unperturbed (paired t-test, Cohen's d of the paired differences), and how well
surprise singles out the event frame among all frames of the perturbed trajectories (AUROC).
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.model.surprise import SurpriseMeter, one_step_surprise, surprise_signal  # noqa: F401  (re-exported)
from jepaworld.science.common import Progress, checkpoint_name, held_out, write_result
from jepaworld.science.perturb import KINDS, matched_trajectories
from jepaworld.science.stats import auroc, paired_ttest


@dataclass
class KindStats:
    """One perturbation: mean surprise at the event step (perturbed, and the same step unperturbed), the
    paired t-test of the difference (two-sided), Cohen's d_z, and the AUROC of the event frame against
    every other frame of the perturbed trajectories."""

    kind: str
    n: int
    event_mean: float
    control_mean: float
    ratio: float
    t: float
    p_two_sided: float
    cohens_d: float
    auroc: float


@dataclass
class SurpriseResult:
    """``surprise[kind]``: (B, T-1) per trajectory, column j = frame j+1; ``event_step``: K (frame index).
    ``control_auroc``: the event step's AUROC within the unperturbed trajectories (about 0.5)."""

    protocol: dict[str, Any]
    checkpoint: str
    event_step: int
    surprise: dict[str, list[list[float]]]
    stats: list[KindStats]
    control_auroc: float
    starts: list[tuple[int, int]]
    wall_s: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def event_stats(kind: str, perturbed: np.ndarray, unperturbed: np.ndarray, event_step: int) -> KindStats:
    """Statistics of one kind from (B, T-1) surprise arrays; the event frame K is column K-1."""
    col = event_step - 1
    ev, ctl = perturbed[:, col], unperturbed[:, col]
    test = paired_ttest(ev, ctl)
    others = np.delete(perturbed, col, axis=1)
    ratio = float(ev.mean() / ctl.mean()) if ctl.mean() > 0 else math.inf
    return KindStats(kind=kind, n=len(ev), event_mean=float(ev.mean()), control_mean=float(ctl.mean()), ratio=ratio,
                     t=test.t, p_two_sided=test.p_two_sided, cohens_d=test.cohens_d,
                     auroc=auroc(ev, others.reshape(-1)))  # fmt: skip


def surprise_test(
    model: Any,
    episodes: int = 50,
    frames: int = 12,
    event_step: int = 6,
    actions: str = "recorded",
    seed: int = 0,
    data_path: str | None = None,
    progress: Progress | None = None,
) -> SurpriseResult:
    """Run the violation-of-expectation test on matched trajectories from held-out starts; writes nothing."""
    t0 = time.perf_counter()
    meta = model.meta
    f, ids, where = held_out(model, data_path, episodes, seed)
    traj = matched_trajectories(meta.env, meta.resolution, f, ids, frames, event_step, meta.frameskip, seed=seed,
                                actions=actions, progress=progress)  # fmt: skip
    signal = {}
    for i, kind in enumerate(KINDS):
        signal[kind] = surprise_signal(model, traj.frames[kind], traj.actions).astype(np.float64)
        if progress:
            progress("scoring surprise", i + 1, len(KINDS))
    stats = [event_stats(k, signal[k], signal["unperturbed"], event_step) for k in KINDS if k != "unperturbed"]
    base = signal["unperturbed"]
    control = auroc(base[:, event_step - 1], np.delete(base, event_step - 1, axis=1).reshape(-1))
    protocol = {
        "env": meta.env, "held_out": where, "trajectories": len(traj.starts), "frames": frames,
        "event_step": event_step, "frameskip": meta.frameskip, "history": meta.history, "actions": actions,
        "seed": seed, "teleported": traj.teleported, "recolour": "RGB -> BGR from the event step on",
        "description": (
            f"{len(traj.starts)} matched trajectories of {frames} frames ({meta.frameskip} env steps apart) from "
            f"held-out starts, {actions} actions; at frame {event_step} the {traj.teleported} is teleported / the "
            "frames are recoloured; surprise = ||z_hat - z||^2 of the one-block-ahead prediction; paired t-test "
            "(two-sided) and Cohen's d against the same frame unperturbed; AUROC of the event frame among all "
            "frames of the perturbed trajectories"
        ),
    }  # fmt: skip
    return SurpriseResult(protocol=protocol, checkpoint=checkpoint_name(model), event_step=event_step,
                          surprise={k: v.tolist() for k, v in signal.items()}, stats=stats, control_auroc=control,
                          starts=traj.starts, wall_s=time.perf_counter() - t0)  # fmt: skip


def write_surprise(result: SurpriseResult, out: str | Path) -> Path:
    """Write ``OUT/results.json`` and ``OUT/surprise.png``; returns the results path."""
    from jepaworld.science.plots import plot_surprise

    return write_result(result.to_dict(), out, {"surprise.png": plot_surprise})
