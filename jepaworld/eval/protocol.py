"""The goal-reaching protocol: which (start, goal) pairs an evaluation uses.

Published protocol: the start is a random state of a held-out trajectory and the goal is the
state ``goal_offset`` (25) env steps later on the same trajectory; the agent gets ``budget`` (50)
env steps. Pairs are drawn with a fixed seed so every method is scored on the same episodes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jepaworld.config import EvalConfig
from jepaworld.data import EpisodeFile


@dataclass(frozen=True)
class GoalEpisode:
    """One evaluation episode: start and goal states taken from a held-out trajectory."""

    index: int
    episode: int  # episode id in the data file
    t: int  # start step within the episode
    start: np.ndarray  # state (S,)
    goal: np.ndarray  # state (S,)


def draw_episodes(
    file: EpisodeFile,
    episode_ids: Sequence[int],
    cfg: EvalConfig,
    keep: Callable[[np.ndarray, np.ndarray], bool] | None = None,
) -> list[GoalEpisode]:
    """``cfg.episodes`` (start, goal) pairs from ``episode_ids``, goal ``cfg.goal_offset`` steps later.

    ``keep(start, goal)`` filters pairs (e.g. cross-wall goals only). Raises ValueError when the
    held-out trajectories are too short or too few pairs pass the filter.
    """
    lengths = np.asarray(file.ep_len)[list(episode_ids)]
    eligible = [int(e) for e, n in zip(episode_ids, lengths, strict=True) if n > cfg.goal_offset]
    if not eligible:
        raise ValueError(
            f"no held-out episode is longer than goal_offset={cfg.goal_offset} steps (longest: "
            f"{int(lengths.max()) if len(lengths) else 0}); collect longer episodes "
            "(--max-steps) or lower --goal-offset"
        )
    rng = np.random.default_rng(cfg.seed)
    offsets = np.asarray(file.ep_offset)
    states = file.state
    out: list[GoalEpisode] = []
    tries = 0
    while len(out) < cfg.episodes:
        tries += 1
        if tries > 200 * cfg.episodes:
            raise ValueError(
                f"only {len(out)} of {cfg.episodes} episodes satisfy subset={cfg.subset!r} with "
                f"goal_offset={cfg.goal_offset}; use more held-out data or a smaller --episodes"
            )
        e = eligible[int(rng.integers(len(eligible)))]
        t = int(rng.integers(int(file.ep_len[e]) - cfg.goal_offset))
        start = np.asarray(states[offsets[e] + t], dtype=np.float32)
        goal = np.asarray(states[offsets[e] + t + cfg.goal_offset], dtype=np.float32)
        if keep is not None and not keep(start, goal):
            continue
        out.append(GoalEpisode(index=len(out), episode=e, t=t, start=start, goal=goal))
    return out
