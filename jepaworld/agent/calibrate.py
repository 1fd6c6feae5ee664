"""The surprise guard's threshold, calibrated on held-out *unperturbed* trajectories (see ``guard.py``).

    guard = calibrate_guard(wm, quantile=0.99, policy=policy)   # the policy's own closed loop, else replays
"""

from __future__ import annotations

from typing import Any

import numpy as np

from jepaworld.agent.agent import Agent
from jepaworld.agent.guard import GuardConfig
from jepaworld.agent.run import run_agent
from jepaworld.config import EvalConfig
from jepaworld.control import draw_episodes
from jepaworld.envs import make
from jepaworld.envs.goal import as_goal_env
from jepaworld.errors import JepaworldError
from jepaworld.run.episodes import held_out_episodes


def calibrate_guard(model: Any, quantile: float = 0.99, episodes: int = 0, seed: int = 0,
                    data_path: str | None = None, policy: Any = None, rollouts: int = 200, goal_offset: int = 25,
                    budget: int = 50, **settings: int) -> GuardConfig:  # fmt: skip
    """Threshold = the ``quantile`` of the surprise of every frame of held-out unperturbed trajectories:

    with ``policy``: ``rollouts`` closed-loop episodes of it from held-out starts toward the state ``goal_offset``
    steps later (``budget`` steps; a draw of its own, seed 10000 + ``seed``, not an evaluation's); without:
    held-out episodes replayed as recorded (frames ``frameskip`` steps apart; ``episodes`` = 0: all of them).
    Both are measured and recorded; the threshold uses the first when there is a policy.
    """
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
    meta = model.meta
    probe = as_goal_env(make(meta.env, resolution=meta.resolution), meta.env)
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
