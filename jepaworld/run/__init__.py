"""A trained run on disk: its typed record (``RunMeta``), checkpoints, and the device to load it on.

Shared by ``train/`` (which writes runs) and the inference side (``jepaworld.load``, ``plan/``,
``eval/``), which never imports ``train/``.
"""

from jepaworld.run.checkpoint import (
    Checkpoint,
    CheckpointError,
    clean_stale,
    load_checkpoint,
    load_train_state,
    resolve_checkpoint,
    save_checkpoint,
)
from jepaworld.run.device import pick_device
from jepaworld.run.meta import RunMeta, current_versions

__all__ = [
    "Checkpoint",
    "CheckpointError",
    "RunMeta",
    "clean_stale",
    "current_versions",
    "load_checkpoint",
    "load_train_state",
    "pick_device",
    "resolve_checkpoint",
    "save_checkpoint",
]
