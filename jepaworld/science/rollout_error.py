"""Open-loop latent prediction error against horizon, beside two model-free baselines.

    result = rollout_error(wm, episodes=50, horizon=16)    # measures; writes nothing
    write_rollout_error(result, out)                        # results.json, rollout_error.png

Windows come from held-out episodes exactly as training builds them (``WindowSampler``: frames
``fs`` env steps apart, each with the z-scored block of the ``fs`` actions that follow it). From
the last context frame ``t`` the model rolls ``H`` blocks forward open-loop (its own predictions fed
back) and is compared with the embeddings of the frames it predicts. Baselines, from the same
embeddings: *copy-last* predicts ``z_t`` at every step; *linear extrapolation* predicts
``z_t + k (z_t - z_{t-1})`` at step ``k``. Every window therefore carries at least two context
frames (``max(history, 2)``); the model sees only its own ``history`` of them.

Error at horizon k = mean over windows and dimensions of ``(prediction - z_{t+k})^2``, divided by
the mean per-dimension variance of z over the distinct held-out frames the windows cover: 1.0 is
the error of always predicting the mean embedding, 2.0 that of predicting an unrelated frame's.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.data import WindowSampler
from jepaworld.errors import JepaworldError
from jepaworld.science.common import Progress, checkpoint_name, encode, held_out, write_result

BASELINES = ("copy-last", "linear extrapolation")


@dataclass
class RolloutErrorResult:
    """Normalised open-loop error per horizon (index k-1 = horizon k) for the model and each baseline.

    ``errors[name]`` / ``stderr[name]``: mean and standard error over windows, for ``name`` in
    "world model", "copy-last", "linear extrapolation". ``crossing``: the first horizon where the
    model's error is not below the best baseline's, None when it beats both up to the last horizon.
    """

    protocol: dict[str, Any]
    checkpoint: str
    horizons: list[int]
    errors: dict[str, list[float]]
    stderr: dict[str, list[float]]
    z_variance: float
    crossing: int | None
    wall_s: float

    @property
    def verdict(self) -> str:
        H = self.horizons[-1]
        if self.crossing is None:
            return f"beats both baselines up to horizon {H}"
        if self.crossing == 1:
            return "does not beat the best baseline even at horizon 1"
        return f"beats both baselines up to horizon {self.crossing - 1}; not from horizon {self.crossing} on"

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "verdict": self.verdict}


def baseline_predictions(z_prev: np.ndarray, z_last: np.ndarray, horizon: int) -> dict[str, np.ndarray]:
    """Copy-last and linear extrapolation from the last two context embeddings (B, D) -> (B, H, D) each."""
    z_prev, z_last = np.asarray(z_prev, np.float64), np.asarray(z_last, np.float64)
    k = np.arange(1, horizon + 1, dtype=np.float64)[None, :, None]
    copy = np.repeat(z_last[:, None], horizon, axis=1)
    return {"copy-last": copy, "linear extrapolation": z_last[:, None] + k * (z_last - z_prev)[:, None]}


def embedding_variance(z: np.ndarray) -> float:
    """Mean over dimensions of the variance of embeddings ``z`` (N, D)."""
    z = np.asarray(z, np.float64)
    if len(z) < 2:
        raise JepaworldError("the embedding variance needs at least two frames")
    return float(z.var(axis=0).mean())


def normalised_errors(pred: np.ndarray, target: np.ndarray, variance: float) -> np.ndarray:
    """Per window and horizon: mean over dims of (pred - target)^2 / variance. (B, H, D) x2 -> (B, H)."""
    return np.square(np.asarray(pred, np.float64) - np.asarray(target, np.float64)).mean(-1) / variance


def crossing_horizon(model: np.ndarray, baselines: list[np.ndarray]) -> int | None:
    """The first horizon (1-based) where ``model`` >= the best baseline; None if never."""
    best = np.minimum.reduce([np.asarray(b) for b in baselines])
    worse = np.flatnonzero(np.asarray(model) >= best)
    return int(worse[0]) + 1 if len(worse) else None


def max_horizon(ep_len: np.ndarray, context: int, frameskip: int) -> int:
    """The longest open-loop horizon any of these episodes fits (windows of context + H frames)."""
    return int((int(np.max(ep_len)) - 1) // frameskip + 1 - context)


@torch.inference_mode()
def rollout_error(
    model: Any,
    episodes: int = 50,
    horizon: int = 16,
    windows: int = 256,
    seed: int = 0,
    data_path: str | None = None,
    batch: int = 64,
    progress: Progress | None = None,
) -> RolloutErrorResult:
    """Measure the model's open-loop error against horizon (1..``horizon`` blocks); writes nothing."""
    t0 = time.perf_counter()
    if horizon < 1:
        raise JepaworldError(f"--horizon must be >= 1, got {horizon}")
    if windows < 2:
        raise JepaworldError(f"--windows must be >= 2, got {windows}")
    meta = model.meta
    fs, h = meta.frameskip, meta.history
    ctx = max(h, 2)
    f, ids, where = held_out(model, data_path, episodes, seed)
    longest = max_horizon(f.ep_len[ids], ctx, fs)
    if horizon > longest:
        raise JepaworldError(
            f"horizon {horizon} needs episodes of at least {(ctx + horizon - 1) * fs + 1} frames "
            f"({ctx} context frames + {horizon} blocks of {fs} steps); the longest held-out one allows "
            f"--horizon {max(longest, 0)}" + ("" if longest >= 1 else "; collect longer episodes")
        )
    sampler = WindowSampler(f, ids, history=ctx, pred=horizon, frameskip=fs, normalizer=meta.normalizer,
                            in_memory=False)  # fmt: skip
    rng = np.random.default_rng(seed)
    index = np.sort(rng.choice(len(sampler), min(windows, len(sampler)), replace=False))
    frame_rows, action_rows = sampler.window_rows(index)
    device = next(model.parameters()).device

    errors: dict[str, list[np.ndarray]] = {"world model": [], **{b: [] for b in BASELINES}}
    targets, z_frames, rows_seen = [], [], []
    done = 0
    for i in range(0, len(index), batch):
        pixels, actions = sampler.windows(frame_rows[i : i + batch], action_rows[i : i + batch])
        z = encode(model, pixels)  # (b, T, D)
        actions = actions.to(device)
        z_hist, hist_blocks = z[:, ctx - h : ctx], actions[:, ctx - h : ctx - 1]
        pred = model.rollout(z_hist, actions[:, ctx - 1 : ctx - 1 + horizon], hist_blocks)
        zn = z.double().cpu().numpy()
        target = zn[:, ctx:]
        z_frames.append(zn.reshape(-1, zn.shape[-1]))
        rows_seen.append(frame_rows[i : i + batch].reshape(-1))
        errors["world model"].append(pred.double().cpu().numpy())
        for name, p in baseline_predictions(zn[:, ctx - 2], zn[:, ctx - 1], horizon).items():
            errors[name].append(p)
        targets.append(target)
        done += len(pixels)
        if progress:
            progress("open-loop rollouts", done, len(index))

    # variance over the distinct held-out frames the windows cover
    _, first = np.unique(np.concatenate(rows_seen), return_index=True)
    var = embedding_variance(np.concatenate(z_frames)[first])
    target = np.concatenate(targets)
    means, ses = {}, {}
    for name, preds in errors.items():
        e = normalised_errors(np.concatenate(preds), target, var)  # (N, H)
        means[name] = e.mean(0).tolist()
        ses[name] = (e.std(0, ddof=1) / math.sqrt(len(e))).tolist()
    crossing = crossing_horizon(np.asarray(means["world model"]), [np.asarray(means[b]) for b in BASELINES])
    protocol = {
        "env": meta.env, "held_out": where, "episodes": len(ids), "windows": int(len(index)), "horizon": horizon,
        "frameskip": fs, "history": h, "context_frames": ctx, "seed": seed,
        "description": (
            f"{len(index)} windows from {len(ids)} held-out episodes; open-loop rollout of {horizon} blocks of {fs} "
            f"recorded actions from {h} context frame(s); error = MSE / mean per-dim variance of z over held-out "
            "frames; baselines: copy-last z_t, linear z_t + k(z_t - z_t-1)"
        ),
    }  # fmt: skip
    return RolloutErrorResult(
        protocol=protocol, checkpoint=checkpoint_name(model), horizons=list(range(1, horizon + 1)), errors=means,
        stderr=ses, z_variance=var, crossing=crossing, wall_s=time.perf_counter() - t0,
    )  # fmt: skip


def write_rollout_error(result: RolloutErrorResult, out: str | Path) -> Path:
    """Write ``OUT/results.json`` and ``OUT/rollout_error.png``; returns the results path."""
    from jepaworld.science.plots import plot_rollout_error

    return write_result(result.to_dict(), out, {"rollout_error.png": plot_rollout_error})
