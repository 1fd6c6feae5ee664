"""Latent structure: how the embeddings of held-out frames are laid out, and how straight trajectories are.

    result = latent_structure(wm)        # measures; writes nothing
    write_structure(result, out)         # results.json, pca.png, straightening.png

Frames: the first ``frames`` model frames (``frameskip`` env steps apart, as the model sees them) of
up to ``episodes`` held-out episodes, with their states.

- PCA: the two leading principal components of the embeddings of all those frames, each frame
  coloured by a true state quantity: those of the env's ``StateLayout`` (Two-Room agent x and y;
  Push-T agent x / y, block x / y, block angle; Reacher the joint angles; Cube effector, gripper and
  cube), an env without one its first state dimensions. Smooth colour gradients across the plane mean
  the state is laid out along the leading directions of the embedding; the R^2 of an affine fit of
  each quantity from the two coordinates says how much of it the plane holds linearly.
- Temporal straightening: along each trajectory, the displacements ``d_t = z_{t+1} - z_t`` and the
  angle between consecutive ones, ``cos θ_t = <d_t, d_{t+1}> / (|d_t| |d_{t+1}|)``. A straight path
  has θ = 0°, a right-angle zig-zag 90°, a path that doubles back 180°. Reported: the mean cosine
  and the curvature = the mean angle in degrees (Hénaff et al. 2019), measured in the same way on
  the trained embeddings, the pixels (flattened, in [0, 1]), an untrained encoder of the same
  config (seeded init) and the true state (the quantities above, z-scored; the block angle as sin,
  cos). Triples where either displacement is zero (nothing moved; identical frames) have no angle
  and are counted as skipped. In pixel space a small object moving on a still background bends by
  about 120° per step (consecutive difference images share the middle frame with opposite signs),
  so pixels are a curved reference rather than a straight one.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.envs import state_layout
from jepaworld.errors import JepaworldError
from jepaworld.science.common import Progress, checkpoint_name, encode, held_out, model_device, write_result

SPACES = ("latent", "untrained encoder", "pixels", "true state")
HIST_EDGES = np.linspace(0.0, 180.0, 37)  # 5-degree bins


# -- measures ----------------------------------------------------------------------------------------
@dataclass
class Curvature:
    """Angles between consecutive displacements pooled over trajectories (``cosines``: the valid triples)."""

    cosines: np.ndarray
    skipped: int

    @property
    def angles_deg(self) -> np.ndarray:
        return np.degrees(np.arccos(np.clip(self.cosines, -1.0, 1.0)))

    def summary(self) -> dict[str, Any]:
        n = len(self.cosines)
        a = self.angles_deg
        nan = float("nan")
        return {
            "mean_cos": float(self.cosines.mean()) if n else nan,
            "curvature_deg": float(a.mean()) if n else nan,
            "median_deg": float(np.median(a)) if n else nan,
            "stderr_deg": float(a.std(ddof=1) / math.sqrt(n)) if n > 1 else nan,
            "triples": n,
            "skipped": int(self.skipped),
            "hist": np.histogram(a, HIST_EDGES)[0].tolist(),
        }


def curvature(trajectories: list[np.ndarray] | np.ndarray, eps: float = 1e-9) -> Curvature:
    """Angles between consecutive displacements of each trajectory (T, D) (a list, or an array (B, T, D)).

    A triple is skipped when either displacement's norm is at most ``eps`` times the median
    displacement norm over all trajectories (a frame that did not change).
    """
    disp = [np.diff(np.asarray(t, np.float64).reshape(len(t), -1), axis=0) for t in trajectories]
    norms = [np.linalg.norm(d, axis=1) for d in disp]
    all_norms = np.concatenate(norms) if norms else np.zeros(0)
    floor = eps * (float(np.median(all_norms)) if len(all_norms) else 0.0)
    cosines, skipped = [], 0
    for d, n in zip(disp, norms, strict=True):
        if len(d) < 2:
            continue
        ok = (n[:-1] > floor) & (n[1:] > floor)
        skipped += int((~ok).sum())
        dots = (d[:-1] * d[1:]).sum(1)
        with np.errstate(invalid="ignore", divide="ignore"):
            cosines.append((dots / (n[:-1] * n[1:]))[ok])
    return Curvature(np.concatenate(cosines) if cosines else np.zeros(0), skipped)


@dataclass
class PCA2D:
    """``coords`` (N, 2) of the centred data on its two leading principal ``components`` (2, D)."""

    coords: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    explained_variance_ratio: np.ndarray


def pca_2d(x: np.ndarray) -> PCA2D:
    """The two leading principal components of ``x`` (N, D) by SVD, each signed so that its largest
    loading is positive (deterministic across runs)."""
    x = np.asarray(x, np.float64)
    if x.ndim != 2 or len(x) < 2:
        raise JepaworldError(f"PCA needs at least two points (N, D), got {x.shape}")
    mean = x.mean(0)
    xc = x - mean
    _, s, vt = np.linalg.svd(xc, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k]
    signs = np.sign(comps[np.arange(k), np.abs(comps).argmax(1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    if k < 2:  # one-dimensional data: a zero second axis
        comps = np.vstack([comps, np.zeros((2 - k, x.shape[1]))])
    var = np.square(s)
    ratio = var[:2] / var.sum() if var.sum() > 0 else np.zeros(2)
    return PCA2D(xc @ comps.T, comps, mean, np.pad(ratio, (0, 2 - len(ratio))))


@dataclass
class StateColumns:
    """True-state quantities to colour frames by: ``values`` (N, K); ``cyclic[k]``: an angle in degrees."""

    names: list[str]
    values: np.ndarray
    cyclic: list[bool]


def state_columns(env: str, state: np.ndarray, max_dims: int = 4) -> StateColumns:
    """The quantities of ``env``'s states (N, S) shown on the PCA plane (see the module docstring)."""
    s = np.asarray(state, np.float64)
    layout = state_layout(env)
    if layout is None:
        k = min(max_dims, s.shape[1])
        return StateColumns([f"state[{i}]" for i in range(k)], s[:, :k], [False] * k)
    names, values, cyclic = [], [], []
    for q in layout.quantities:
        if q.angle:
            names.append(f"{q.name} (deg)")
            values.append(np.degrees(np.mod(s[:, q.columns[0]], 2 * math.pi)))
        else:
            names += q.labels
            values += [s[:, c] for c in q.columns]
        cyclic += [q.angle] * (1 if q.angle else len(q.columns))
    return StateColumns(names, np.column_stack(values), cyclic)


def plane_r2(coords: np.ndarray, cols: StateColumns) -> dict[str, float]:
    """Per state quantity, the R^2 of a least-squares affine fit from the two PCA coordinates: how much of
    it the plane shows linearly (an angle: the mean R^2 of its sin and cos)."""
    x = np.column_stack([coords, np.ones(len(coords))])

    def r2(y: np.ndarray) -> float:
        var = float(y.var())
        if var <= 0:
            return float("nan")
        w = np.linalg.lstsq(x, y, rcond=None)[0]
        return float(1.0 - (y - x @ w).var() / var)

    out = {}
    for j, (name, cyc) in enumerate(zip(cols.names, cols.cyclic, strict=True)):
        v = cols.values[:, j]
        out[name] = float(np.mean([r2(np.sin(np.radians(v))), r2(np.cos(np.radians(v)))])) if cyc else r2(v)
    return out


def state_path(cols: StateColumns) -> np.ndarray:
    """The state quantities as one z-scored vector per frame (angles as sin and cos) for the curvature."""
    parts = []
    for j, cyc in enumerate(cols.cyclic):
        v = cols.values[:, j]
        parts += [np.sin(np.radians(v)), np.cos(np.radians(v))] if cyc else [v]
    x = np.column_stack(parts)
    return (x - x.mean(0)) / np.maximum(x.std(0), 1e-9)


# -- the measurement ---------------------------------------------------------------------------------
@dataclass
class StructureResult:
    """PCA of held-out embeddings coloured by state, and curvature per space (see the module docstring).

    ``pca``: ``coords`` (N, 2), ``explained_variance_ratio``, ``columns`` {name: values (N,)}, ``cyclic``
    (names of angle columns), ``episode`` (N,) episode of each frame, ``state_r2`` {name: R^2 of an
    affine fit of the quantity from the two coordinates} (:func:`plane_r2`). ``straightening``: per space in
    :data:`SPACES` that was measured, :meth:`Curvature.summary`.
    """

    protocol: dict[str, Any]
    checkpoint: str
    pca: dict[str, Any]
    straightening: dict[str, dict[str, Any]]
    wall_s: float
    hist_edges_deg: list[float] = field(default_factory=lambda: HIST_EDGES.tolist())

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def untrained_like(model: Any, seed: int = 0) -> torch.nn.Module:
    """A freshly initialised ``WorldModel`` of ``model``'s config (seeded), on its device, in eval mode."""
    from jepaworld.model import WorldModel

    meta = model.meta
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        fresh = WorldModel(model.config.model, action_dim=meta.action_dim, frameskip=meta.frameskip,
                           history=meta.history)  # fmt: skip
    return fresh.to(model_device(model)).eval()


def held_out_trajectories(
    model: Any, episodes: int, frames: int, seed: int, data_path: str | None
) -> tuple[list[np.ndarray], list[np.ndarray], list[int], str]:
    """The first ``frames`` model frames (``frameskip`` env steps apart) of up to ``episodes`` held-out
    episodes: pixels uint8 (T, H, W, 3) and states (T, S) per episode, the episode ids, their name."""
    if frames < 3:
        raise JepaworldError(f"--frames must be >= 3 (a curvature needs three frames), got {frames}")
    fs = model.meta.frameskip
    f, ids, where = held_out(model, data_path, episodes, seed)
    f.require_state("the latent-structure plots")
    pixels, states, kept = [], [], []
    for e in ids:
        off, n = int(f.ep_offset[e]), int(f.ep_len[e])
        stop = off + min(n, (frames - 1) * fs + 1)
        p = np.asarray(f.pixels[off:stop:fs])
        if len(p) < 3:
            continue
        pixels.append(p)
        states.append(np.asarray(f.state[off:stop:fs], np.float64))
        kept.append(e)
    if not kept:
        raise JepaworldError(f"no held-out episode has 3 frames {fs} env steps apart; collect longer episodes")
    return pixels, states, kept, where


def _g(x: float) -> float:
    """Five significant digits (keeps results.json small)."""
    return float(f"{x:.5g}")


@torch.inference_mode()
def latent_structure(
    model: Any,
    episodes: int = 50,
    frames: int = 32,
    untrained: bool = True,
    seed: int = 0,
    data_path: str | None = None,
    progress: Progress | None = None,
) -> StructureResult:
    """PCA of held-out embeddings coloured by the state, and temporal straightening; writes nothing."""
    t0 = time.perf_counter()
    meta = model.meta
    pixels, states, ids, where = held_out_trajectories(model, episodes, frames, seed, data_path)
    lens = [len(p) for p in pixels]
    split = np.cumsum(lens)[:-1]
    flat = np.concatenate(pixels)
    z = encode(model, flat, progress=progress, stage="encoding").double().cpu().numpy()
    cols = state_columns(meta.env, np.concatenate(states))
    spaces: dict[str, list[np.ndarray]] = {"latent": np.split(z, split)}
    if untrained:
        zu = encode(untrained_like(model, seed), flat, progress=progress, stage="encoding (untrained)")
        spaces["untrained encoder"] = np.split(zu.double().cpu().numpy(), split)
    spaces["pixels"] = [p.reshape(len(p), -1).astype(np.float32) / 255.0 for p in pixels]
    spaces["true state"] = np.split(state_path(cols), split)
    straight = {name: curvature(traj).summary() for name, traj in spaces.items()}
    pca = pca_2d(z)
    pca_dict = {
        "coords": [[_g(a), _g(b)] for a, b in pca.coords],
        "explained_variance_ratio": pca.explained_variance_ratio.tolist(),
        "columns": {n: [_g(v) for v in cols.values[:, j]] for j, n in enumerate(cols.names)},
        "cyclic": [n for n, c in zip(cols.names, cols.cyclic, strict=True) if c],
        "state_r2": plane_r2(pca.coords, cols),
        "episode": np.repeat(ids, lens).tolist(),
    }
    span = f"the first {lens[0]}" if len(set(lens)) == 1 else f"up to the first {max(lens)}"
    protocol = {
        "env": meta.env, "held_out": where, "episodes": len(ids), "frames": int(len(flat)),
        "frames_per_episode": frames, "frameskip": meta.frameskip, "embed_dim": int(z.shape[1]), "seed": seed,
        "description": (
            f"{span} frames ({meta.frameskip} env steps apart) of {len(ids)} held-out episodes, "
            f"{len(flat)} frames; PCA of their embeddings coloured by the true state; curvature = mean angle "
            "between consecutive displacements z_t+1 - z_t and z_t+2 - z_t+1 (0 deg: straight), beside pixels"
            + (", an untrained encoder of the same config" if untrained else "") + " and the true state"
        ),
    }  # fmt: skip
    return StructureResult(protocol=protocol, checkpoint=checkpoint_name(model), pca=pca_dict,
                           straightening=straight, wall_s=time.perf_counter() - t0)  # fmt: skip


def write_structure(result: StructureResult, out: str | Path) -> Path:
    """Write ``OUT/results.json``, ``OUT/pca.png`` and ``OUT/straightening.png``; returns the results path."""
    from jepaworld.science.plots import plot_pca, plot_straightening

    return write_result(result.to_dict(), out, {"pca.png": plot_pca, "straightening.png": plot_straightening}, indent=1)
