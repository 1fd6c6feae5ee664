"""Training data: open the episode file, split episodes, fit the normaliser, build samplers."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from jepaworld.config import Config
from jepaworld.data import DataError, EpisodeFile, Normalizer, WindowSampler, check_compatible, split_episodes
from jepaworld.run import RunMeta
from jepaworld.train.distributed import Runtime

if TYPE_CHECKING:
    from jepaworld.envs import EnvSpec


@dataclass
class TrainData:
    cfg: Config
    file: EpisodeFile
    train: WindowSampler
    val: WindowSampler
    normalizer: Normalizer
    train_ids: np.ndarray
    val_ids: np.ndarray

    @property
    def action_dim(self) -> int:
        return int(self.file.action.shape[1])

    def val_batches(self, n: int, batch_size: int, device: torch.device) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """A fixed set of held-out windows (same every call and every resume)."""
        rng = np.random.default_rng(12345)
        out = []
        for _ in range(n):
            pixels, actions = self.val.sample(batch_size, rng)
            out.append((pixels.to(device), actions.to(device)))
        return out

    def meta(self) -> RunMeta:
        """What a checkpoint needs to plan and evaluate without the training code (step 0)."""
        d = self.cfg.data
        env = str(self.file.attrs.get("env", d.env))
        spec = _spec(env)
        return RunMeta(
            env=env, resolution=int(self.file.resolution),
            action_dim=self.action_dim, frameskip=d.frameskip, history=d.history, normalizer=self.normalizer,
            data_path=str(Path(d.path).resolve()), held_out=[int(i) for i in self.val_ids],
            action_low=None if spec is None else spec.action_low.tolist(),
            action_high=None if spec is None else spec.action_high.tolist(),
        )  # fmt: skip


def _spec(env: str) -> EnvSpec | None:
    """The env's spec, where jepaworld knows the env (``None`` for unregistered and recorded ones)."""
    from jepaworld.envs import get_spec
    from jepaworld.envs.registry import UnknownEnvError

    try:
        return get_spec(env)
    except UnknownEnvError:
        return None


def _dynamics(env: str) -> str | None:
    """The env's dynamics version, where jepaworld knows the env (``None`` for unregistered ones)."""
    spec = _spec(env)
    return None if spec is None else spec.dynamics


def _check_fits_in_ram(f: EpisodeFile, path: str) -> None:
    """:class:`DataError` when loading the frames (twice at the peak: the file's, then the samplers' copy)
    would not fit in this machine's RAM."""
    need = 2 * f.n_frames * int(np.prod(f.pixels.shape[1:]))
    try:
        ram = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system: nothing to compare with
        return
    if need > 0.8 * ram:
        raise DataError(
            f"{path}: its {f.n_frames:,} frames take {need / 2e9:.1f} GB uncompressed (twice that while loading) "
            f"and this machine has {ram / 1e9:.0f} GB of RAM; set data.in_memory=false to read windows from disk "
            "(and train.loader_workers=N to read them ahead of the training step)"
        )


def build_data(cfg: Config, rt: Runtime) -> TrainData:
    d = cfg.data
    f = EpisodeFile(d.path)
    f.validate()
    check_compatible(f, env=d.env, resolution=cfg.model.image_size, dynamics=_dynamics(d.env))
    train_ids, val_ids = split_episodes(f.n_episodes, d.val_fraction, d.seed)
    if len(val_ids) == 0:
        raise DataError(
            f"no held-out episodes ({f.n_episodes} episode(s) in {d.path}, data.val_fraction={d.val_fraction}); "
            "training validates on them and evaluation starts from them: set data.val_fraction > 0 "
            "and use a file of at least 2 episodes"
        )
    if d.in_memory:
        _check_fits_in_ram(f, d.path)
    arrays = f.arrays(pixels=d.in_memory)  # read once, shared by both samplers
    normalizer = Normalizer.fit(arrays["action"], arrays["ep_len"], arrays["ep_offset"], train_ids)
    shard = train_ids[rt.rank :: rt.world_size] if rt.distributed else train_ids
    source = arrays if d.in_memory else f
    kw = dict(history=d.history, pred=d.pred, frameskip=d.frameskip, normalizer=normalizer, in_memory=d.in_memory)
    train = WindowSampler(source, shard, **kw)
    val = WindowSampler(source, val_ids, **kw)
    return TrainData(cfg=cfg, file=f, train=train, val=val, normalizer=normalizer, train_ids=train_ids, val_ids=val_ids)
