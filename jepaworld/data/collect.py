"""Collect episodes with several worker processes, resumably, into one HDF5 episode file.

Episode ``i`` is seeded from ``(seed, i)`` alone, so the data does not depend on the number of
workers. Work is cut into shards of consecutive episodes; each shard is written atomically
(``jepaworld.atomic``: temp file, fsync, rename) into ``OUT.parts/`` next to the run's settings.
Rerunning the same command after an interruption (Ctrl-C, SIGKILL, a crash) keeps every finished
shard and collects the rest; at the end the shards are merged into ``OUT`` (again through a temp file and a rename)
and the parts folder is removed. ``OUT`` is therefore either absent or complete.

Policies: ``"expert"`` (the env's scripted expert), ``"random"``, or ``"module:function"`` naming a
user function ``function(obs, state, rng) -> action`` (``rng`` optional): ``obs`` uint8
``(H, W, 3)``, ``state`` float32 ``(S,)``, ``rng`` a ``numpy.random.Generator`` seeded per episode,
action array-like ``(A,)``. The module must be importable from the working directory.
"""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import json
import logging
import multiprocessing as mp
import os
import re
import shutil
import signal
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from jepaworld.atomic import atomic_path
from jepaworld.config import DataConfig, json_text, write_json
from jepaworld.data.episodes import DataError, create_columns, offsets, write_episodes
from jepaworld.envs import experts, get_spec, make
from jepaworld.lock import exclusive

log = logging.getLogger(__name__)

Progress = Callable[[int, int], None]  # (episodes_done, frames_done)
SETTINGS = ("env", "resolution", "max_steps", "noise", "policy", "seed", "episodes", "explore", "frameskip")
_OLD_DEFAULTS = {"explore": 0.0}  # settings an older unfinished collection did not record
_SHARD = re.compile(r"^(\d{7})-(\d{7})\.h5$")
_ENVS: dict[tuple[str, int], Any] = {}


@dataclass
class CollectResult:
    path: Path
    episodes: int
    frames: int
    bytes: int
    seconds: float


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


def config_path(out: Path) -> Path:
    return out.with_name(out.name + ".config.json")


def shard_size(episodes: int) -> int:
    """Episodes per shard: small enough to lose little on a crash, large enough to write efficiently."""
    return int(np.clip(episodes // 50, 1, 20))


# -- policies -------------------------------------------------------------------------------
def policy_factory(env_name: str, policy: str) -> Callable:
    """``make_policy(env, rng, noise) -> policy(obs, state)`` for a policy name."""
    if policy == "expert":
        return get_spec(env_name).make_policy
    if policy == "random":
        return experts.random_policy
    if ":" in policy:
        return _user_policy(policy)
    raise DataError(f"unknown policy {policy!r}; expected 'expert', 'random' or 'module:function'")


def _user_policy(name: str) -> Callable:
    module_name, _, fn_name = name.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        fn = getattr(importlib.import_module(module_name), fn_name)
    except (ImportError, AttributeError) as e:
        raise DataError(
            f"policy {name!r}: cannot import ({e}); expected module:function importable from here"
        ) from None
    if not callable(fn):
        raise DataError(f"policy {name!r} is not callable")
    n_args = len(inspect.signature(fn).parameters)

    def make_policy(env, rng: np.random.Generator, noise: float):
        return (lambda obs, state: fn(obs, state, rng)) if n_args >= 3 else fn

    return make_policy


def explore_blocks(
    rng: np.random.Generator, steps: int, explore: float, frameskip: int, low: np.ndarray, high: np.ndarray
) -> np.ndarray:
    """Exploring actions ``(steps, A)``: NaN where the policy acts, else one uniform action held over an
    action block of ``frameskip`` steps (chosen with probability ``explore``), as a planner samples them."""
    low, high = np.broadcast_arrays(np.asarray(low, np.float32).reshape(-1), np.asarray(high, np.float32).reshape(-1))
    blocks = -(-steps // frameskip)
    draw = rng.uniform(low, high, (blocks, low.size)).astype(np.float32)
    draw[rng.random(blocks) >= explore] = np.nan
    return np.repeat(draw, frameskip, axis=0)[:steps]


# -- one episode, one shard -----------------------------------------------------------------
def run_episode(
    env,
    make_policy: Callable,
    seed: int,
    index: int,
    max_steps: int,
    noise: float,
    explore: float = 0.0,
    frameskip: int = 1,
) -> dict[str, np.ndarray]:
    """Episode ``index``: ``pixels (L, H, W, 3)``, ``action (L, A)`` (last row zeros), ``state (L, S)``.

    ``explore > 0`` overrides the policy's action on a random share of the action blocks
    (:func:`explore_blocks`); the policy is still called every step, so it keeps its own state.
    """
    env_seq, policy_seq, explore_seq = np.random.SeedSequence([seed, index]).spawn(3)
    obs, info = env.reset(seed=int(env_seq.generate_state(1)[0]))
    policy = make_policy(env, np.random.default_rng(policy_seq), noise)
    action_dim = int(np.prod(env.action_space.shape))
    override = None
    if explore > 0:
        space = env.action_space
        override = explore_blocks(
            np.random.default_rng(explore_seq), max_steps, explore, frameskip, space.low, space.high
        )
    frames, states, actions = [obs], [info["state"]], []
    for t in range(max_steps):
        action = np.asarray(policy(obs, info["state"]), np.float32).reshape(-1)
        if action.shape != (action_dim,) or not np.all(np.isfinite(action)):
            raise DataError(f"policy returned {action!r}; expected {action_dim} finite numbers")
        if override is not None and not np.isnan(override[t, 0]):
            action = override[t]
        obs, _, terminated, truncated, info = env.step(action)
        actions.append(action)
        frames.append(obs)
        states.append(info["state"])
        if terminated or truncated:
            break
    actions.append(np.zeros(action_dim, np.float32))
    return {
        "pixels": np.stack(frames).astype(np.uint8),
        "action": np.stack(actions),
        "state": np.stack(states).astype(np.float32).reshape(len(frames), -1),
    }


def _collect_shard(job: tuple[dict[str, Any], int, int, str]) -> tuple[int, int, int]:
    settings, start, stop, folder = job
    key = (settings["env"], settings["resolution"])
    if key not in _ENVS:
        _ENVS[key] = make(*key)
    env = _ENVS[key]
    make_policy = policy_factory(settings["env"], settings["policy"])
    episodes = [
        run_episode(
            env,
            make_policy,
            settings["seed"],
            i,
            settings["max_steps"],
            settings["noise"],
            settings["explore"],
            settings["frameskip"],
        )
        for i in range(start, stop)
    ]
    columns = {k: np.concatenate([ep[k] for ep in episodes]) for k in episodes[0]}
    ep_len = np.array([len(ep["pixels"]) for ep in episodes], np.int64)
    with atomic_path(Path(folder) / f"{start:07d}-{stop:07d}.h5") as tmp:
        write_episodes(tmp, columns, ep_len, {})
    return start, stop, int(ep_len.sum())


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool


# -- resumable run --------------------------------------------------------------------------
def _prepare_parts(folder: Path, settings: dict[str, Any]) -> dict[tuple[int, int], int]:
    """Create or resume ``folder``; return ``{(start, stop): frames}`` of the shards already there."""
    saved_path = folder / "settings.json"
    if folder.exists() and saved_path.exists():
        saved = json.loads(saved_path.read_text())
        diff = [
            f"{k}: {saved.get(k)!r} there vs {settings[k]!r} now"
            for k in SETTINGS
            if saved.get(k, _OLD_DEFAULTS.get(k, settings[k])) != settings[k]
        ]
        if diff:
            raise DataError(
                f"{folder} holds an unfinished collection with other settings ({'; '.join(diff)}); "
                "rerun with the original settings to resume it, or pass --overwrite to start over"
            )
        settings["shard_size"] = saved["shard_size"]
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob(".*"):  # temp files a killed writer left
        stale.unlink(missing_ok=True)
    if not saved_path.exists():
        write_json(saved_path, settings)
    done: dict[tuple[int, int], int] = {}
    for shard in folder.glob("*.h5"):
        m = _SHARD.match(shard.name)
        if not m:
            continue
        try:
            with h5py.File(shard, "r") as f:
                done[(int(m[1]), int(m[2]))] = int(f["ep_len"][...].sum())
        except (OSError, KeyError):
            log.warning("discarding unreadable shard %s", shard)
            shard.unlink()
    return done


def _merge(folder: Path, shards: list[tuple[int, int]], out: Path, attrs: dict[str, Any]) -> int:
    """Concatenate shards (in episode order) into ``out`` atomically; returns the frame count."""
    files = [h5py.File(folder / f"{a:07d}-{b:07d}.h5", "r") for a, b in shards]
    try:
        ep_len = np.concatenate([f["ep_len"][...] for f in files])
        n = int(ep_len.sum())
        names = [k for k in ("pixels", "action", "state", "proprio") if k in files[0]]
        shapes = {k: ((n, *files[0][k].shape[1:]), files[0][k].dtype) for k in names}
        with atomic_path(out) as tmp, h5py.File(tmp, "w") as dst:
            create_columns(dst, shapes, len(ep_len))
            row = 0
            for f in files:
                m = f["pixels"].shape[0]
                for k in names:
                    if k == "pixels" and f[k].chunks == dst[k].chunks == (1, *f[k].shape[1:]):
                        _copy_frame_chunks(f[k], dst[k], row)
                    else:
                        dst[k][row : row + m] = f[k][...]
                row += m
            dst["ep_len"][...] = ep_len
            dst["ep_offset"][...] = offsets(ep_len)
            dst.attrs.update(attrs)
    finally:
        for f in files:
            f.close()
    return n


def _copy_frame_chunks(src: h5py.Dataset, dst: h5py.Dataset, row: int) -> None:
    """Copy one-frame chunks as stored (already compressed) to rows ``row...`` of ``dst``."""
    zeros = (0,) * (src.ndim - 1)
    for i in range(src.shape[0]):
        mask, raw = src.id.read_direct_chunk((i, *zeros))
        dst.id.write_direct_chunk((row + i, *zeros), raw, mask)


def preflight(cfg: DataConfig, out: Path, overwrite: bool = False) -> None:
    """Raise :class:`DataError` now for settings or an output that :func:`collect` would reject.

    Nothing is deleted here, and ``--overwrite`` only ever deletes files this module wrote: an
    output path that is a folder (or a ``OUT.parts`` folder that is not an unfinished collection)
    is refused, never removed.
    """
    for name, low in (("episodes", 1), ("max_steps", 1), ("resolution", 8), ("workers", 1)):
        if getattr(cfg, name) < low:
            raise DataError(f"data.{name} must be >= {low}, got {getattr(cfg, name)}")
    if cfg.noise < 0:
        raise DataError(f"data.noise must be >= 0, got {cfg.noise}")
    if not 0.0 <= cfg.explore <= 1.0:
        raise DataError(f"data.explore is a probability per action block, in [0, 1]; got {cfg.explore}")
    get_spec(cfg.env)  # unknown env -> clear error before any work
    policy_factory(cfg.env, cfg.policy)
    if out.is_dir():
        raise DataError(
            f"{out} is a folder; the output must be an episode file path, e.g. --out {out / 'episodes.h5'}"
            + (" (--overwrite never deletes a folder)" if overwrite else "")
        )
    if config_path(out).is_dir():
        raise DataError(f"{config_path(out)} is a folder where collect writes its settings; choose another --out")
    parts = parts_dir(out)
    if parts.exists() and not (parts / "settings.json").exists() and (not parts.is_dir() or any(parts.iterdir())):
        raise DataError(
            f"{parts} exists but is not an unfinished collection (no settings.json); collect keeps its work "
            "there: move it or choose another --out"
        )
    if out.exists() and not overwrite:
        raise DataError(f"{out} already exists; pass --overwrite to replace it, or choose another --out")
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        raise DataError(f"cannot create {out.parent}: {folder} is a file, not a folder; choose another --out")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise DataError(
            f"the output folder {folder} is not writable (permission denied); fix its permissions or choose "
            "another --out"
        )


def collect(
    cfg: DataConfig,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    progress: Progress | None = None,
) -> CollectResult:
    """Collect ``cfg.episodes`` episodes into ``out`` (default ``cfg.path``); see the module docstring.

    ``progress(episodes_done, frames_done)`` is called as shards finish (including shards found
    from an earlier, interrupted run). Raises :class:`DataError` on bad settings or an existing
    ``out`` (unless ``overwrite``); one collection per output at a time (``OUT.lock``).
    """
    out = Path(out if out is not None else cfg.path)
    with exclusive(f"{out}.lock", f"the collection output {out}"):
        return _collect(cfg, out, overwrite, progress)


def _collect(cfg: DataConfig, out: Path, overwrite: bool, progress: Progress | None) -> CollectResult:
    t0 = time.perf_counter()
    folder = parts_dir(out)
    preflight(cfg, out, overwrite)
    if overwrite:
        out.unlink(missing_ok=True)
        config_path(out).unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    settings = {k: getattr(cfg, k) for k in SETTINGS} | {"shard_size": shard_size(cfg.episodes)}
    done = _prepare_parts(folder, settings)
    k = settings["shard_size"]
    shards = [(a, min(a + k, cfg.episodes)) for a in range(0, cfg.episodes, k)]
    todo = [s for s in shards if s not in done]
    episodes_done = sum(b - a for a, b in done)
    frames_done = sum(done.values())
    if done:
        log.info("resuming %s: %d of %d episodes already collected", folder, episodes_done, cfg.episodes)
    if progress:
        progress(episodes_done, frames_done)
    jobs = [(settings, a, b, str(folder)) for a, b in todo]
    workers = min(cfg.workers, len(jobs))
    pool = None
    results: Iterator[tuple[int, int, int]]
    if workers <= 1:
        results = map(_collect_shard, jobs)
    else:
        pool = ProcessPoolExecutor(workers, mp_context=mp.get_context("spawn"), initializer=_ignore_sigint)
        results = (f.result() for f in as_completed([pool.submit(_collect_shard, job) for job in jobs]))
    try:
        for a, b, frames in results:
            episodes_done += b - a
            frames_done += frames
            if progress:
                progress(episodes_done, frames_done)
    except BaseException:
        if pool is not None:  # stop at once: unfinished shards are redone on the next run
            for p in list(pool._processes.values()):  # noqa: SLF001 (no public terminate)
                p.terminate()
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
    attrs = {
        "env": cfg.env,
        "resolution": cfg.resolution,
        "policy": cfg.policy,
        "seed": cfg.seed,
        "noise": cfg.noise,
        "explore": cfg.explore,
        "max_steps": cfg.max_steps,
        "version": _version(),
        "dynamics": get_spec(cfg.env).dynamics or "",
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "config": json_text(dataclasses.asdict(cfg)),
    }
    write_json(config_path(out), dataclasses.asdict(cfg) | {"path": str(out)})
    frames = _merge(folder, shards, out, attrs)
    shutil.rmtree(folder, ignore_errors=True)
    return CollectResult(out, cfg.episodes, frames, out.stat().st_size, time.perf_counter() - t0)


def _version() -> str:
    from jepaworld.version import __version__

    return __version__
