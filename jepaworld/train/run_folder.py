"""The run folder when a training starts: a fresh folder prepared, or the checkpoint a resumed run
continues from (with the settings a resume may change), and the run's config.yaml.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml

from jepaworld.config import Config, ConfigError, from_dict, save_config, to_dict
from jepaworld.errors import JepaworldError
from jepaworld.run import checkpoint as ckpt_io

# Settings a resumed run may change: how long it trains, where the run folder now is, and where and
# how fast it runs (frames in RAM or read from disk, loader processes: the same windows either way).
# Every other setting of these sections decides what is trained and must stay as saved.
RESUME_MAY_CHANGE = frozenset(
    {"train.steps", "train.out", "train.device", "train.threads", "train.loader_workers", "train.prefetch",
     "train.compile", "data.in_memory"}
)  # fmt: skip
# Settings that decide training (the rest of ``data`` only concerns collection; plan/eval only inference).
TRAINING_KEYS = frozenset(
    {"data.path", "data.env", "data.frameskip", "data.history", "data.pred", "data.val_fraction", "data.seed"}
)


def resume_conflicts(saved: Config, cfg: Config) -> list[tuple[str, Any, Any]]:
    """``(section.key, saved value, new value)`` for each training setting ``cfg`` changes in a saved run."""
    a, b = to_dict(saved), to_dict(cfg)
    out = []
    for section in ("data", "model", "train"):
        for key, was in a[section].items():
            name = f"{section}.{key}"
            if name in RESUME_MAY_CHANGE or (section == "data" and name not in TRAINING_KEYS):
                continue
            now = b[section][key]
            same = Path(was).resolve() == Path(now).resolve() if name == "data.path" else was == now
            if not same:
                out.append((name, was, now))
    return out


def resume_point(run: Path, cfg: Config) -> tuple[ckpt_io.Checkpoint, dict[str, Any]]:
    """The checkpoint and training state to continue from; clear errors when there is nothing to do."""
    ck = ckpt_io.load_checkpoint(run)
    state = ckpt_io.load_train_state(ck)
    if state is None:
        raise ckpt_io.CheckpointError(f"{ck.path} has no training state to resume from; start a new --out")
    conflicts = resume_conflicts(ck.config, cfg)
    if conflicts:
        name, was, now = conflicts[0]
        raise ConfigError(
            f"cannot resume {run} with other settings: {name} is {was!r} in the run but {now!r} now; a resumed "
            "run keeps its settings (only train.steps and the device may change): drop the change, or start "
            "a new run with another --out"
        )
    done = int(state["step"])
    if done >= cfg.train.steps:
        raise JepaworldError(
            f"{run} is already trained: step {done} of train.steps={cfg.train.steps}, nothing to resume; to train "
            f"longer, pass more steps: `jepaworld train --out {run} --resume --steps N` with N > {done}"
        )
    return ck, state


def prepare_run_folder(run: Path) -> None:
    """Create the run folder and check it is writable, before any data is read."""
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise JepaworldError(f"cannot create the run folder {run} ({e.strerror or e}); choose another --out") from None
    if not os.access(run, os.W_OK | os.X_OK):
        raise JepaworldError(
            f"the run folder {run} is not writable (permission denied); fix its permissions or choose another --out"
        )


def write_config(cfg: Config, path: Path) -> None:
    """Save the run's config, leaving the file untouched when it already says the same."""
    try:
        same = from_dict(yaml.safe_load(path.read_text()) or {}) == cfg
    except (OSError, yaml.YAMLError, JepaworldError):
        same = False
    if not same:
        save_config(cfg, path)
