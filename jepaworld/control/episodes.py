"""Which (start, goal) pairs an evaluation uses: the goal-reaching protocol's episode draw.

Published protocol: the start is a random state of a held-out trajectory and the goal is the
state ``goal_offset`` (25) env steps later on the same trajectory; the agent gets ``budget`` (50)
env steps. Pairs are drawn with a fixed seed so every method is scored on the same episodes. A
pair whose start already satisfies the success test is redrawn (published Cube numbers were
inflated by such episodes) and counted.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jepaworld.config import EvalConfig
from jepaworld.data import EpisodeFile
from jepaworld.errors import JepaworldError

StatePredicate = Callable[[np.ndarray, np.ndarray], bool]  # (start, goal) -> bool


@dataclass(frozen=True)
class GoalEpisode:
    """One evaluation episode: start and goal states taken from a held-out trajectory."""

    index: int
    episode: int  # episode id in the data file
    t: int  # start step within the episode
    start: np.ndarray  # state (S,)
    goal: np.ndarray  # state (S,)


@dataclass(frozen=True)
class EpisodeDraw:
    """The drawn episodes, and how many draws were rejected because the start already succeeded."""

    episodes: list[GoalEpisode]
    redrawn: int


def draw_episodes(
    file: EpisodeFile,
    episode_ids: Sequence[int],
    cfg: EvalConfig,
    keep: StatePredicate | None = None,
    solved: StatePredicate | None = None,
) -> EpisodeDraw:
    """``cfg.episodes`` (start, goal) pairs from ``episode_ids``, goal ``cfg.goal_offset`` steps later.

    keep(start, goal):   filters pairs (e.g. cross-wall goals only).
    solved(start, goal): the success test; pairs it accepts are redrawn and counted.
    Raises ``JepaworldError`` when the held-out trajectories are too short, too few pairs pass, or
    the file has no states.
    """
    states = file.require_state("goal-reaching evaluation")
    lengths = np.asarray(file.ep_len)[list(episode_ids)]
    eligible = [int(e) for e, n in zip(episode_ids, lengths, strict=True) if n > cfg.goal_offset]
    if not eligible:
        raise JepaworldError(
            f"no held-out episode is longer than goal_offset={cfg.goal_offset} steps (longest: "
            f"{int(lengths.max()) if len(lengths) else 0}); collect longer episodes "
            "(--max-steps) or lower --goal-offset"
        )
    rng = np.random.default_rng(cfg.seed)
    offsets, ep_len = np.asarray(file.ep_offset), np.asarray(file.ep_len)
    out: list[GoalEpisode] = []
    tries = redrawn = 0
    while len(out) < cfg.episodes:
        tries += 1
        if tries > 200 * cfg.episodes:
            raise JepaworldError(
                f"only {len(out)} of {cfg.episodes} episodes satisfy subset={cfg.subset!r} with "
                f"goal_offset={cfg.goal_offset} ({redrawn} draws started at the goal already); use more "
                "held-out data, a larger --goal-offset or a smaller --episodes"
            )
        e = eligible[int(rng.integers(len(eligible)))]
        t = int(rng.integers(int(ep_len[e]) - cfg.goal_offset))
        start = np.asarray(states[offsets[e] + t], dtype=np.float32)
        goal = np.asarray(states[offsets[e] + t + cfg.goal_offset], dtype=np.float32)
        if keep is not None and not keep(start, goal):
            continue
        if solved is not None and solved(start, goal):
            redrawn += 1
            continue
        out.append(GoalEpisode(index=len(out), episode=e, t=t, start=start, goal=goal))
    return EpisodeDraw(episodes=out, redrawn=redrawn)
