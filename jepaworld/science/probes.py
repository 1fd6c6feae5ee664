"""Probes: how well the frozen embeddings encode the environment's state.

    result = run_probes(wm)           # fits linear and MLP probes, scores them; writes nothing
    write_probes(result, out)         # results.json, probes.png

Frames are drawn at random from the run's training episodes (fit) and held-out episodes (score);
embeddings come from the frozen encoder (``wm.encode``). Targets are z-scored with the fitting
frames' mean and standard deviation. Quantities (each env's ``StateLayout``, ``jepaworld.envs.state``):

- Two-Room: agent position (x, y);
- Push-T: agent position (x, y), block position (x, y), block angle as (sin, cos);
- Reacher: shoulder and wrist angles, each as (sin, cos);
- Cube: effector position (x, y, z), gripper opening, cube position (x, y, z);
- any other env: each state dimension on its own.

Two probes map an embedding to every target column at once: a linear one (closed-form ridge
regression on standardised embeddings, its penalty chosen from a grid on 20% of the fitting
episodes held aside, then refit on all) and a small MLP (two hidden layers, Adam, a few hundred
minibatch steps). Scores on held-out frames, per quantity: Pearson r (the mean of its columns'
r) and the MSE on z-scored targets (the mean over its columns). An angle's r is the mean
of the r of sin and of cos: a raw angle wraps around, so its own r would mostly measure the
wrap; the angle itself is recovered as atan2(sin, cos) of the prediction, and its median absolute
error (degrees) is reported beside.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.data import WindowSampler
from jepaworld.envs import state_layout
from jepaworld.errors import JepaworldError
from jepaworld.model.linear_probe import Standardiser, ridge_solve
from jepaworld.science.common import Progress, checkpoint_name, encode, training_episodes, write_result

# The LeWM paper ("Probing"): LeWM on Push-T, Pearson r of (linear, MLP) probes. No published values elsewhere.
PUBLISHED: dict[str, dict[str, tuple[float, float]]] = {
    "pusht": {"agent position": (0.974, 0.998), "block position": (0.986, 0.999), "block angle": (0.902, 0.990)},
}
RIDGE_GRID = (1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)


@dataclass
class Targets:
    """Probe targets built from states: ``values`` (N, K), column names, quantity -> its column indices."""

    values: np.ndarray
    columns: list[str]
    quantities: dict[str, list[int]]
    angles: tuple[str, ...] = ()  # the quantities whose columns are (sin, cos) of an angle


def probe_targets(env: str, state: np.ndarray) -> Targets:
    """The quantities probed for ``env`` from its states (N, S): its ``StateLayout``'s, an angle as
    (sin, cos); each state column on its own for an env without a layout."""
    s = np.asarray(state, np.float64)
    layout = state_layout(env)
    if layout is None:
        names = [f"state[{i}]" for i in range(s.shape[1])]
        return Targets(s, names, {n: [i] for i, n in enumerate(names)})
    values: list[np.ndarray] = []
    labels: list[str] = []
    quantities: dict[str, list[int]] = {}
    for q in layout.quantities:
        cols = [np.sin(s[:, q.columns[0]]), np.cos(s[:, q.columns[0]])] if q.angle else [s[:, c] for c in q.columns]
        quantities[q.name] = list(range(len(values), len(values) + len(cols)))
        values += cols
        labels += q.labels
    angles = tuple(q.name for q in layout.quantities if q.angle)
    return Targets(np.column_stack(values), labels, quantities, angles=angles)


# -- probes ----------------------------------------------------------------------------------------
@dataclass
class RidgeProbe:
    """``predict(X) = standardise(X) @ weight + bias``."""

    scale: Standardiser
    weight: np.ndarray
    bias: np.ndarray
    lam: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.scale(x) @ self.weight + self.bias


def fit_ridge(x: np.ndarray, y: np.ndarray, groups: np.ndarray | None = None, grid=RIDGE_GRID,
              seed: int = 0) -> RidgeProbe:  # fmt: skip
    """Ridge regression ``x (N, D) -> y (N, K)``, its penalty chosen on 20% of the ``groups`` (e.g.
    episodes; frames when None) held aside, then refit on everything."""
    scale = Standardiser.fit(x)
    xs, y = scale(x), np.asarray(y, np.float64)
    groups = np.arange(len(xs)) if groups is None else np.asarray(groups)
    unique = np.unique(groups)
    lam = grid[len(grid) // 2]
    if len(unique) >= 5 and len(grid) > 1:
        val_groups = np.random.default_rng(seed).choice(unique, max(1, len(unique) // 5), replace=False)
        val = np.isin(groups, val_groups)
        losses = []
        for g in grid:
            w, b = ridge_solve(xs[~val], y[~val], g)
            losses.append(float(np.square(xs[val] @ w + b - y[val]).mean()))
        lam = grid[int(np.argmin(losses))]
    w, b = ridge_solve(xs, y, lam)
    return RidgeProbe(scale, w, b, lam)


@dataclass
class MLPProbe:
    scale: Standardiser
    net: torch.nn.Module

    @torch.inference_mode()
    def predict(self, x: np.ndarray) -> np.ndarray:
        xs = torch.as_tensor(self.scale(x), dtype=torch.float32)
        return self.net(xs).double().numpy()


def fit_mlp(x: np.ndarray, y: np.ndarray, hidden: int = 256, steps: int = 400, batch: int = 256,
            lr: float = 2e-3, weight_decay: float = 1e-4, seed: int = 0,
            progress: Progress | None = None) -> MLPProbe:  # fmt: skip
    """A two-hidden-layer GELU MLP ``x (N, D) -> y (N, K)`` trained with Adam (lr decayed to 0) on CPU."""
    scale = Standardiser.fit(x)
    xs = torch.as_tensor(scale(x), dtype=torch.float32)
    yt = torch.as_tensor(np.asarray(y), dtype=torch.float32)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = torch.nn.Sequential(
            torch.nn.Linear(xs.shape[1], hidden), torch.nn.GELU(),
            torch.nn.Linear(hidden, hidden), torch.nn.GELU(),
            torch.nn.Linear(hidden, yt.shape[1]),
        )  # fmt: skip
    gen = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda i: 1.0 - i / max(steps, 1))
    with torch.enable_grad():
        for i in range(steps):
            idx = torch.randint(len(xs), (min(batch, len(xs)),), generator=gen)
            loss = torch.nn.functional.mse_loss(net(xs[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            if progress and ((i + 1) % 25 == 0 or i + 1 == steps):
                progress("MLP probe", i + 1, steps)
    return MLPProbe(scale, net.eval())


# -- scores ----------------------------------------------------------------------------------------
def pearson_r(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """Pearson r per column of (N, K) arrays; NaN for a constant column."""
    p, t = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    p, t = p - p.mean(0), t - t.mean(0)
    den = np.sqrt(np.square(p).sum(0) * np.square(t).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, (p * t).sum(0) / np.where(den > 0, den, 1.0), np.nan)


def angle_error_deg(pred_sincos: np.ndarray, true_sincos: np.ndarray) -> float:
    """Median absolute difference (degrees) between atan2 of predicted and of true (sin, cos) columns."""
    a = np.arctan2(pred_sincos[:, 0], pred_sincos[:, 1])
    b = np.arctan2(true_sincos[:, 0], true_sincos[:, 1])
    return float(np.degrees(np.median(np.abs((a - b + math.pi) % (2 * math.pi) - math.pi))))


@dataclass
class QuantityScore:
    """Held-out scores of one quantity; ``published_*``: the LeWM paper's numbers for this env, where it gives them."""

    quantity: str
    columns: list[str]
    linear_r: float
    linear_mse: float
    mlp_r: float
    mlp_mse: float
    published_linear_r: float | None = None
    published_mlp_r: float | None = None
    extra: dict[str, float] = field(default_factory=dict)


def score_quantities(targets_test: np.ndarray, preds: dict[str, np.ndarray], t: Targets, env: str,
                     scale: Standardiser | None = None) -> list[QuantityScore]:  # fmt: skip
    """Scores per quantity of ``preds`` ({"linear", "mlp"}: z-scored predictions (N, K)) against the
    z-scored test targets; ``scale`` (the fitting targets' standardiser) recovers angles."""
    out = []
    r = {k: pearson_r(p, targets_test) for k, p in preds.items()}
    mse = {k: np.square(p - targets_test).mean(0) for k, p in preds.items()}
    published = PUBLISHED.get(env, {})
    for name, cols in t.quantities.items():
        pub = published.get(name)
        extra = {}
        if name in t.angles and scale is not None:
            std, mean = scale.std[cols], scale.mean[cols]
            truth = targets_test[:, cols] * std + mean
            for k, p in preds.items():
                extra[f"{k}_angle_error_deg_median"] = angle_error_deg(p[:, cols] * std + mean, truth)
        out.append(QuantityScore(
            quantity=name, columns=[t.columns[c] for c in cols],
            linear_r=float(np.mean(r["linear"][cols])), linear_mse=float(np.mean(mse["linear"][cols])),
            mlp_r=float(np.mean(r["mlp"][cols])), mlp_mse=float(np.mean(mse["mlp"][cols])),
            published_linear_r=pub[0] if pub else None, published_mlp_r=pub[1] if pub else None, extra=extra,
        ))  # fmt: skip
    return out


@dataclass
class ProbeResult:
    """Scores per quantity; ``samples``: per target column, up to 400 held-out frames' z-scored truth and
    linear / MLP predictions (for the scatter plot)."""

    protocol: dict[str, Any]
    checkpoint: str
    scores: list[QuantityScore]
    ridge_lambda: float
    wall_s: float
    samples: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _frames(model: Any, f: Any, ids: list[int], n: int, rng: np.random.Generator,
            progress: Progress | None, stage: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """``n`` random frames of episodes ``ids`` (one-frame windows): embeddings, states, episode of each."""
    sampler = WindowSampler(f, ids, history=1, pred=0, frameskip=1, in_memory=False)
    index = np.sort(rng.choice(len(sampler), min(n, len(sampler)), replace=False))
    frames, acts = sampler.window_rows(index)
    pixels, _, state = sampler.windows(frames, acts, with_state=True)
    z = encode(model, pixels[:, 0], progress=progress, stage=stage).double().cpu().numpy()
    lens = np.asarray(f.ep_len)[ids]
    episode = np.repeat(np.asarray(ids), lens)[frames[:, 0]]  # local rows run over ids in order
    return z, state[:, 0].numpy(), episode


def run_probes(model: Any, train_frames: int = 4000, test_frames: int = 2000, mlp_steps: int = 400,
               seed: int = 0, progress: Progress | None = None) -> ProbeResult:  # fmt: skip
    """Fit linear and MLP probes on training frames, score them on held-out ones; writes nothing."""
    t0 = time.perf_counter()
    if train_frames < 10 or test_frames < 10:
        raise JepaworldError(f"probes need at least 10 frames to fit and to score, got {train_frames} / {test_frames}")
    meta = model.meta
    f, train_ids = training_episodes(model)
    f.require_state("probing")
    rng = np.random.default_rng(seed)
    z_train, s_train, ep_train = _frames(model, f, train_ids, train_frames, rng, progress, "encoding fit frames")
    z_test, s_test, _ = _frames(model, f, list(meta.held_out), test_frames, rng, progress, "encoding test frames")
    t_train, t_test = probe_targets(meta.env, s_train), probe_targets(meta.env, s_test)
    yscale = Standardiser.fit(t_train.values)
    y_train, y_test = yscale(t_train.values), yscale(t_test.values)
    ridge = fit_ridge(z_train, y_train, groups=ep_train, seed=seed)
    mlp = fit_mlp(z_train, y_train, steps=mlp_steps, seed=seed, progress=progress)
    preds = {"linear": ridge.predict(z_test), "mlp": mlp.predict(z_test)}
    scores = score_quantities(y_test, preds, t_test, meta.env, scale=yscale)
    keep = rng.choice(len(y_test), min(400, len(y_test)), replace=False)
    samples = {c: {"true": y_test[keep, j].tolist(), **{k: p[keep, j].tolist() for k, p in preds.items()}}
               for j, c in enumerate(t_test.columns)}  # fmt: skip
    protocol = {
        "env": meta.env, "fit_frames": int(len(z_train)), "fit_episodes": len(np.unique(ep_train)),
        "test_frames": int(len(z_test)), "test_episodes": len(meta.held_out), "mlp_steps": mlp_steps, "seed": seed,
        "embed_dim": int(z_train.shape[1]),
        "description": (
            f"frozen embeddings of {len(z_train)} random frames of training episodes -> state; scored on "
            f"{len(z_test)} frames of held-out episodes; targets z-scored with the fitting frames' statistics; "
            "linear: ridge (penalty chosen on held-aside fitting episodes); MLP: 2 x 256 GELU, AdamW; "
            "r of a quantity = mean r of its columns (angle: of sin and cos)"
        ),
    }  # fmt: skip
    return ProbeResult(protocol=protocol, checkpoint=checkpoint_name(model), scores=scores,
                       ridge_lambda=float(ridge.lam), wall_s=time.perf_counter() - t0, samples=samples)  # fmt: skip


def write_probes(result: ProbeResult, out: str | Path) -> Path:
    """Write ``OUT/results.json`` and ``OUT/probes.png``; returns the results path."""
    from jepaworld.science.plots import plot_probes

    return write_result(result.to_dict(), out, {"probes.png": plot_probes})
