"""The run contract: what a trained run records so that inference needs nothing else.

``RunMeta`` is written by ``train/`` into every checkpoint (``meta.json``) and read back by
``jepaworld.load``, evaluation and the planner. It is the one place these facts live: the
environment and frame size the model was trained on, the action block layout and the env's action
box, the action normaliser, the held-out episodes evaluation starts from, and the versions that produced it.
"""

from __future__ import annotations

import platform
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from jepaworld.data.normalize import Normalizer
from jepaworld.errors import JepaworldError


def current_versions() -> dict[str, str]:
    """Versions of what produced a run: jepaworld, torch, numpy, Python."""
    import numpy
    import torch

    from jepaworld.version import __version__

    return {"jepaworld": __version__, "torch": torch.__version__, "numpy": numpy.__version__,
            "python": platform.python_version()}  # fmt: skip


@dataclass
class RunMeta:
    """Facts about a trained run (``meta.json`` of each checkpoint).

    env:         environment name the data came from ("tworoom", "gymnasium:ID", ...)
    resolution:  square frame size (pixels) the encoder takes
    action_dim:  raw env action dims A; the model takes blocks of ``frameskip * A``
    frameskip:   env steps per action block (and between two model frames)
    history:     context frames the predictor sees
    normalizer:  the training set's action statistics (z-scoring)
    data_path:   the episode file trained on (absolute)
    held_out:    episode ids of ``data_path`` never trained on (evaluation starts come from them)
    action_low, action_high: (A,) the env's action box, what planners clip raw actions to (None: not
                 recorded, in runs written before it was, or of envs jepaworld has no spec for)
    step:        optimiser steps done when the checkpoint was written
    metrics:     the last logged training metrics
    versions:    package versions that wrote it
    """

    env: str
    resolution: int
    action_dim: int
    frameskip: int
    history: int
    normalizer: Normalizer
    data_path: str
    held_out: list[int]
    action_low: list[float] | None = None
    action_high: list[float] | None = None
    step: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    versions: dict[str, str] = field(default_factory=current_versions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env, "resolution": self.resolution, "action_dim": self.action_dim,
            "frameskip": self.frameskip, "history": self.history, "normalizer": self.normalizer.to_dict(),
            "data_path": self.data_path, "held_out": [int(i) for i in self.held_out],
            "action_low": _floats(self.action_low), "action_high": _floats(self.action_high), "step": self.step,
            "metrics": dict(self.metrics), "versions": dict(self.versions),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: dict[str, Any], where: str = "meta.json") -> RunMeta:
        """Read a saved dict (also the pre-RunMeta layout, which called ``held_out`` ``val_episodes``, and
        runs written before the action box was recorded)."""
        try:
            return cls(
                env=str(d["env"]), resolution=int(d["resolution"]), action_dim=int(d["action_dim"]),
                frameskip=int(d["frameskip"]), history=int(d["history"]),
                normalizer=Normalizer.from_dict(d["normalizer"]), data_path=str(d["data_path"]),
                held_out=[int(i) for i in d.get("held_out", d.get("val_episodes", []))],
                action_low=_floats(d.get("action_low")), action_high=_floats(d.get("action_high")),
                step=int(d.get("step", 0)), metrics=dict(d.get("metrics", {})),
                versions=dict(d.get("versions", {})),
            )  # fmt: skip
        except (KeyError, TypeError, ValueError) as e:
            raise JepaworldError(
                f"{where}: not a jepaworld run record ({type(e).__name__}: {e}); "
                "it was not written by `jepaworld train`, or is damaged: retrain or use another checkpoint"
            ) from None

    def action_bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """The env's action box (low, high), each float32 (A,): as recorded, else (runs written before it was
        recorded) from the env's spec, which imports the env (``gymnasium:package.module:ID``: the user's package)."""
        if self.action_low is not None and self.action_high is not None:
            return np.asarray(self.action_low, np.float32), np.asarray(self.action_high, np.float32)
        from jepaworld.envs import get_spec

        spec = get_spec(self.env)
        return spec.action_low, spec.action_high


def _floats(values: Any) -> list[float] | None:
    """A JSON-ready list of floats, or None."""
    return None if values is None else [float(v) for v in np.asarray(values, dtype=np.float64).reshape(-1)]
