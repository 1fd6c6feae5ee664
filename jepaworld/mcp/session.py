"""One live environment an LLM drives through the tools: the env, the frame now, and what the model makes of it.

Besides the env, a session keeps the surprise meter (one-step prediction error of every frame seen
after a whole action block), the latent history the world model imagines from, the raw actions of
a block still incomplete, the last imagination (to compare with what then happens) and the agents
``go_to`` has used (one per mode, kept so a session's episodes draw one planner noise stream).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from jepaworld.agent.latent import LatentHistory
from jepaworld.errors import JepaworldError
from jepaworld.model.surprise import SurpriseMeter


@dataclass
class Imagined:
    """What ``imagine`` predicted: raw actions (K*fs, A) and the embedding after each block (K, D)."""

    actions: np.ndarray
    z: torch.Tensor
    compared: int = 0  # blocks already compared with what happened


@dataclass(eq=False)
class Live:
    id: str
    env: Any
    obs: np.ndarray  # uint8 (H, W, 3): the model's frame now
    meter: SurpriseMeter
    history: LatentHistory
    seed: int  # the agents' planner seed (the start seed, or 0)
    last_used: float = 0.0
    busy: bool = False
    steps: int = 0  # env steps since start
    pending: list[np.ndarray] = field(default_factory=list)  # raw actions of the block in progress (< frameskip)
    imagined: Imagined | None = None
    agents: dict[str, Any] = field(default_factory=dict)

    def restart_latents(self, model: Any) -> None:
        """Forget the latent past and meet the frame now as a first frame (after ``go_to``'s own loop)."""
        self.meter.reset()
        self.meter.update(self.obs)
        z = self.meter.embedding
        assert z is not None  # update() just set it
        self.history = LatentHistory(model.meta.history, model.meta.frameskip * model.meta.action_dim)
        self.history.push(z, None)
        self.pending, self.imagined = [], None


def check_actions(actions: list[list[float]], low: np.ndarray, high: np.ndarray, most: int,
                  what: str = "actions") -> np.ndarray:  # fmt: skip
    """A list of raw env actions -> float32 (N, A), each finite and inside the action box, 1 <= N <= most."""
    A = len(low)
    if not 1 <= len(actions) <= most:
        raise JepaworldError(f"{what}: {len(actions)} actions; give 1 to {most} per call, each a list of {A} numbers")
    bad = [i for i, a in enumerate(actions) if len(a) != A]
    if bad:
        raise JepaworldError(f"{what}[{bad[0]}]: {len(actions[bad[0]])} numbers; every action has {A} "
                             f"(each in [{low[0]:g}, {high[0]:g}])")  # fmt: skip
    arr = np.asarray(actions, np.float32)
    if not np.isfinite(arr).all():
        raise JepaworldError(f"{what}: every number must be finite (no NaN or infinity)")
    out = np.flatnonzero(((arr < low) | (arr > high)).any(axis=1))
    if len(out):
        i = int(out[0])
        raise JepaworldError(f"{what}[{i}] = {arr[i].tolist()} leaves the action box: each component must lie in "
                             f"[{low.tolist()}, {high.tolist()}]")  # fmt: skip
    return arr
