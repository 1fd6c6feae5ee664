"""Checkpoints: safetensors weights + the run's config and ``RunMeta`` + a resumable training state.

Layout of a run folder::

    RUN/
      config.yaml                 resolved config of the run (what ``--resume`` continues)
      checkpoints/
        step-0000500/             one complete checkpoint (written as a temp folder, then renamed)
          model.safetensors       weights
          config.json             full config
          meta.json               ``RunMeta``: env, frames, action blocks, normaliser, held-out episodes
          train_state.pt          optimiser, RNG and sampler states (resuming only)
        latest                    name of the newest complete checkpoint (replaced atomically)

A kill at any point leaves ``latest`` naming a complete checkpoint; the temp folders a kill leaves
behind (``.step-*``, ``.latest.*.tmp``) are removed by ``clean_stale`` on the next start.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from jepaworld.atomic import atomic_folder, atomic_write_text
from jepaworld.config import Config, from_dict, json_text, to_dict
from jepaworld.errors import JepaworldError
from jepaworld.run.meta import RunMeta

KEEP_LAST = 2


class CheckpointError(JepaworldError):
    """A checkpoint that is missing or unreadable; the message says what to do."""


@dataclass
class Checkpoint:
    path: Path
    config: Config
    meta: RunMeta
    weights: dict[str, torch.Tensor]

    @property
    def step(self) -> int:
        return self.meta.step


def checkpoints_dir(run: Path) -> Path:
    return run / "checkpoints"


def clean_stale(run: str | Path) -> list[Path]:
    """Remove the temp folders and files an interrupted checkpoint write left in ``RUN/checkpoints``."""
    root = checkpoints_dir(Path(run))
    if not root.is_dir():
        return []
    stale = [p for p in root.iterdir() if p.name.startswith(".")]
    for p in stale:
        if p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)
    return stale


def save_checkpoint(
    run: str | Path,
    model: torch.nn.Module,
    cfg: Config,
    meta: RunMeta,
    train_state: dict[str, Any] | None = None,
) -> Path:
    """Write ``RUN/checkpoints/step-XXXXXXX`` (``meta.step``) atomically and point ``latest`` at it."""
    root = checkpoints_dir(Path(run))
    root.mkdir(parents=True, exist_ok=True)
    name = f"step-{meta.step:07d}"
    final = root / name
    with atomic_folder(final) as tmp:
        state = {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}
        save_file(state, str(tmp / "model.safetensors"))
        (tmp / "config.json").write_text(json_text(to_dict(cfg), indent=2))
        (tmp / "meta.json").write_text(json_text(meta.to_dict(), indent=2))
        if train_state is not None:
            torch.save(train_state, tmp / "train_state.pt")
    atomic_write_text(root / "latest", name)
    for old in sorted(p for p in root.glob("step-*") if p.is_dir())[:-KEEP_LAST]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def resolve_checkpoint(path: str | Path) -> Path:
    """A run folder, its ``checkpoints`` folder, or one ``step-*`` folder -> the checkpoint folder."""
    p = Path(path)
    if not p.exists():
        raise CheckpointError(f"checkpoint {p} does not exist; pass a run folder written by `jepaworld train`")
    if (p / "model.safetensors").exists():
        return p
    root = p if p.name == "checkpoints" else checkpoints_dir(p)
    latest = root / "latest"
    if latest.exists():
        candidate = root / latest.read_text().strip()
        if (candidate / "model.safetensors").exists():
            return candidate
    complete = sorted(q for q in root.glob("step-*") if (q / "meta.json").exists())
    if complete:
        return complete[-1]
    raise CheckpointError(f"no complete checkpoint under {p}; train first (`jepaworld train --out {p}`)")


def load_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint (see ``resolve_checkpoint``); a damaged one raises ``CheckpointError``."""
    ckpt = resolve_checkpoint(path)
    try:
        cfg = from_dict(json.loads((ckpt / "config.json").read_text()))
        meta = RunMeta.from_dict(json.loads((ckpt / "meta.json").read_text()), where=str(ckpt / "meta.json"))
        weights = load_file(str(ckpt / "model.safetensors"))
    except (OSError, json.JSONDecodeError, SafetensorError) as e:
        raise CheckpointError(
            f"checkpoint {ckpt} is unreadable ({type(e).__name__}: {e}); it may be truncated: resume from an "
            "older one (pass its step-* folder) or retrain"
        ) from None
    return Checkpoint(path=ckpt, config=cfg, meta=meta, weights=weights)


def load_train_state(ckpt: Checkpoint) -> dict[str, Any] | None:
    f = ckpt.path / "train_state.pt"
    if not f.exists():
        return None
    try:
        return torch.load(f, weights_only=False)
    except Exception as e:  # a truncated pickle raises many types (EOFError, RuntimeError, UnpicklingError)
        raise CheckpointError(
            f"{f} is unreadable ({type(e).__name__}: {e}); resume from an older checkpoint or start a new run"
        ) from None
