"""The surprise guard: when the fast loop hands control back to the planner.

Two triggers, per environment:

- surprise: ``surprise_t = ||z_hat_t - z_t||^2`` (``SurpriseMeter``, the model's one-block-ahead
  prediction error) above a threshold calibrated on held-out *unperturbed* trajectories at a
  quantile (0.99: about 1% false alarms on data like the calibration data). With a policy, the
  calibration trajectories are the policy's own closed loop from held-out starts (what the guard
  watches: pushing into a wall surprises this model, and the recorded expert rarely does it);
  without one, the held-out episodes replayed as recorded;
- stall: the latent distance to the goal ``||z_t - z_goal||^2`` has not decreased over
  ``stall_blocks`` blocks (no progress although nothing unexpected happened).

    guard = calibrate_guard(wm, quantile=0.99)    # agent/calibrate.py: thresholds held-out episodes' surprise
    save_guard(guard, RUN / "agent"); guard = load_guard(RUN / "agent")       # RUN/agent/guard.json
    triggers = GuardState(B, guard); reasons = triggers.check(surprise, cost, active)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.config import write_json
from jepaworld.errors import JepaworldError

GUARD = "guard.json"


@dataclass
class GuardConfig:
    """threshold: surprise above it triggers a plan; quantile: of the calibration surprise it is;
    stall_blocks: blocks without a decrease of the latent goal distance that trigger a plan;
    follow_blocks: blocks of a triggered plan executed before the policy acts again;
    calibration: how the threshold was measured (episodes, frames, statistics)."""

    threshold: float
    quantile: float = 0.99
    stall_blocks: int = 4
    follow_blocks: int = 5
    calibration: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not 0.0 < self.quantile < 1.0:
            raise JepaworldError(f"guard quantile must be in (0, 1), got {self.quantile}")
        if self.stall_blocks < 1 or self.follow_blocks < 1:
            raise JepaworldError(
                f"stall_blocks and follow_blocks must be >= 1, got {self.stall_blocks} and {self.follow_blocks}"
            )


def save_guard(guard: GuardConfig, folder: str | Path) -> Path:
    path = Path(folder) / GUARD
    write_json(path, asdict(guard))
    return path


def load_guard(folder: str | Path) -> GuardConfig:
    path = Path(folder) / GUARD
    if not path.exists():
        raise JepaworldError(f"no surprise guard at {path}; run `jepaworld distill RUN` (its last stage calibrates it)")
    try:
        return GuardConfig(**json.loads(path.read_text()))
    except (TypeError, ValueError) as e:
        raise JepaworldError(f"{path}: unreadable ({e}); run `jepaworld distill RUN` again") from None


class GuardState:
    """The triggers of B environments over an episode."""

    def __init__(self, batch: int, guard: GuardConfig) -> None:
        self.guard = guard
        self.costs: list[np.ndarray] = []  # latent goal distance per block, (B,) each
        self.since_plan = np.zeros(batch, dtype=int)  # blocks since the last plan (or the start)

    def check(self, surprise: np.ndarray, cost: np.ndarray, active: np.ndarray) -> np.ndarray:
        """Record this block's surprise (B,) and latent goal distance (B,) -> the reason to plan now per row:
        "surprise", "stall" or "" (none); inactive rows never trigger."""
        self.costs.append(np.asarray(cost, np.float64))
        self.since_plan += 1
        k = self.guard.stall_blocks
        reasons = np.full(len(cost), "", dtype=object)
        if len(self.costs) > k:
            stalled = (self.since_plan > k) & (self.costs[-1] >= self.costs[-1 - k])
            reasons[stalled] = "stall"
        surprised = np.nan_to_num(np.asarray(surprise, np.float64), nan=-np.inf) > self.guard.threshold
        reasons[surprised] = "surprise"
        reasons[~np.asarray(active, bool)] = ""
        return reasons

    def planned(self, rows: np.ndarray) -> None:
        """Rows that just planned: their stall window starts again."""
        self.since_plan[rows] = 0
