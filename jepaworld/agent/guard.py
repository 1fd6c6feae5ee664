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

    guard = calibrate_guard(wm, quantile=0.99)    # replays held-out episodes, thresholds their surprise
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


def calibrate_guard(model: Any, quantile: float = 0.99, episodes: int = 0, seed: int = 0,
                    data_path: str | None = None, policy: Any = None, rollouts: int = 200, goal_offset: int = 25,
                    budget: int = 50, **settings: int) -> GuardConfig:  # fmt: skip
    """Threshold = the ``quantile`` of the surprise of every frame of held-out unperturbed trajectories:

    with ``policy``: ``rollouts`` closed-loop episodes of it from held-out starts toward the state ``goal_offset``
    steps later (``budget`` steps; a draw of its own, seed 10000 + ``seed``, not an evaluation's); without:
    held-out episodes replayed as recorded (frames ``frameskip`` steps apart; ``episodes`` = 0: all of them).
    Both are measured and recorded; the threshold uses the first when there is a policy.
    """
    from jepaworld.run.episodes import held_out_episodes

    meta = model.meta
    f, ids, where = held_out_episodes(model.meta, data_path)
    replay = _replay_surprise(model, f, ids, episodes, seed)
    if not len(replay):
        raise JepaworldError(f"no held-out episode of {where} is longer than one block of {meta.frameskip} steps")
    stats = {"replay": _stats(replay)}
    s, what = replay, (f"every frame ({meta.frameskip} env steps apart) of held-out episodes replayed with their "
                       "recorded actions")
    if policy is not None:
        closed = _policy_surprise(model, policy, f, ids, rollouts, goal_offset, budget, seed)
        stats["policy"] = _stats(closed)
        s, what = closed, (f"every decision of {rollouts} closed-loop episodes of the policy from held-out starts "
                           f"(goal {goal_offset} steps later, budget {budget})")
    threshold = float(np.quantile(s, quantile))
    calibration = {"held_out": where, "frames": int(len(s)), **stats,
                   "description": f"surprise of {what}; threshold = its {quantile} quantile"}  # fmt: skip
    return GuardConfig(threshold=threshold, quantile=quantile, calibration=calibration, **settings)


def _stats(s: np.ndarray) -> dict[str, float]:
    return {"frames": int(len(s)), "mean": float(s.mean()), "median": float(np.median(s)),
            "p90": float(np.quantile(s, 0.9)), "p99": float(np.quantile(s, 0.99)), "max": float(s.max())}  # fmt: skip


def _replay_surprise(model: Any, f: Any, ids: list[int], episodes: int, seed: int) -> np.ndarray:
    """Surprise of every frame of held-out episodes replayed with their recorded actions."""
    meta = model.meta
    if episodes and len(ids) > episodes:
        ids = sorted(np.random.default_rng(seed).choice(ids, episodes, replace=False).tolist())
    fs = meta.frameskip
    offs, lens = np.asarray(f.ep_offset), np.asarray(f.ep_len)
    values = []
    for e in ids:
        n_blocks = (int(lens[e]) - 1) // fs
        if n_blocks < 1:
            continue
        rows = int(offs[e]) + fs * np.arange(n_blocks + 1)
        frames = np.asarray(f.pixels[rows[0] : rows[-1] + 1 : fs])
        actions = np.asarray(f.action[rows[0] : rows[-1]], np.float32)
        values.append(model.surprise(frames, actions))
    return np.concatenate(values).astype(np.float64) if values else np.zeros(0)


def _policy_surprise(model: Any, policy: Any, f: Any, ids: list[int], rollouts: int, goal_offset: int, budget: int,
                     seed: int) -> np.ndarray:  # fmt: skip
    """Surprise of every decision (first frames excepted) of the policy's closed loop from held-out starts."""
    from jepaworld.agent.agent import Agent
    from jepaworld.config import EvalConfig
    from jepaworld.envs import make
    from jepaworld.eval.episodes import draw_episodes
    from jepaworld.eval.runner import run_agent

    meta = model.meta
    probe = make(meta.env, resolution=meta.resolution)
    cfg = EvalConfig(episodes=rollouts, goal_offset=goal_offset, budget=budget, seed=10_000 + seed)
    episodes = draw_episodes(f, ids, cfg, solved=probe.is_success).episodes
    agent = Agent(model, "policy", policy=policy)
    values = []
    for i in range(0, len(episodes), 50):
        _, log = run_agent(meta.env, episodes[i : i + 50], budget, meta.resolution, agent)
        values += [d["surprise"] for d in log if not np.isnan(d["surprise"])]
    if not values:
        raise JepaworldError("the policy's calibration episodes made no decision after their first frame")
    return np.asarray(values, np.float64)


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
