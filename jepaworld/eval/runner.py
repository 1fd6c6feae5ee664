"""Run goal-reaching episodes: latent MPC, and reactive baselines (random, straight-to-goal).

All methods run on the same ``GoalEpisode`` list; environments of one batch step together and
the planner sees every environment of the batch in one call. Environments are used only through
the goal-reaching capability (``jepaworld.envs.goal``): ``set_state``, ``render_state``,
``is_success``, ``get_state``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jepaworld.envs import make
from jepaworld.envs.goal import goal_distance
from jepaworld.eval.episodes import GoalEpisode
from jepaworld.plan.mpc import LatentMPC

# A reactive baseline: (state (S,), goal (S,), rng) -> raw action (A,)
GoalPolicy = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class EpisodeResult:
    index: int
    success: bool
    steps: int  # env steps used (to success, or the whole budget)
    final_distance: float
    frames: list[np.ndarray] = field(default_factory=list)  # recorded (obs | goal) frames, if asked


class EpisodeBatch:
    """One batch of episodes stepped together: envs placed at their starts, success, steps, frames."""

    def __init__(self, env_name: str, episodes: list[GoalEpisode], resolution: int, record: int) -> None:
        self.episodes = episodes
        self.envs, frames, goals = [], [], []
        for ep in episodes:
            env = make(env_name, resolution=resolution)
            env.reset(seed=ep.index)
            env.set_state(ep.start)
            self.envs.append(env)
            frames.append(env.render())
            goals.append(env.render_state(ep.goal))
        self.obs, self.goal_frames = np.stack(frames), np.stack(goals)  # (B, H, W, 3) each
        self.done = np.zeros(len(episodes), dtype=bool)
        self.steps = np.zeros(len(episodes), dtype=int)
        self.record = [ep.index < record for ep in episodes]
        self.frames: list[list[np.ndarray]] = [[] for _ in episodes]
        self._snap()

    def _snap(self) -> None:
        for i, rec in enumerate(self.record):
            if rec:
                self.frames[i].append(np.concatenate([self.obs[i], self.goal_frames[i]], axis=1))

    def step(self, actions: np.ndarray) -> None:
        """actions (B, A): step every environment that has not yet succeeded."""
        for i, env in enumerate(self.envs):
            if self.done[i]:
                continue
            obs, *_ = env.step(actions[i])
            self.obs[i] = obs
            self.steps[i] += 1
            if env.is_success(env.get_state(), self.episodes[i].goal):
                self.done[i] = True
        self._snap()

    def results(self) -> list[EpisodeResult]:
        out = []
        for env, ep, done, steps, frames in zip(self.envs, self.episodes, self.done, self.steps, self.frames,
                                                 strict=True):  # fmt: skip
            out.append(EpisodeResult(index=ep.index, success=bool(done), steps=int(steps),
                                     final_distance=goal_distance(env, env.get_state(), ep.goal), frames=frames))
            env.close()
        return out


def run_policy(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, policy: GoalPolicy, seed: int = 0,
    record: int = 0,
) -> list[EpisodeResult]:  # fmt: skip
    """A reactive baseline: ``policy(state, goal, rng) -> action`` every env step."""
    rng = np.random.default_rng(seed)
    batch = EpisodeBatch(env_name, episodes, resolution, record)
    for _ in range(budget):
        if batch.done.all():
            break
        batch.step(np.stack([policy(env.get_state(), ep.goal, rng) for env, ep in zip(batch.envs, episodes,
                                                                                       strict=True)]))  # fmt: skip
    return batch.results()


def run_mpc(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, mpc: LatentMPC, record: int = 0,
) -> list[EpisodeResult]:  # fmt: skip
    """Latent MPC toward each episode's goal image, one action block per frame, for ``budget`` env steps."""
    batch = EpisodeBatch(env_name, episodes, resolution, record)
    mpc.reset(batch.goal_frames)
    used = 0
    while used < budget and not batch.done.all():
        block = mpc.act(batch.obs)  # (B, fs, A)
        for k in range(min(mpc.frameskip, budget - used)):
            batch.step(block[:, k])
            used += 1
    return batch.results()
