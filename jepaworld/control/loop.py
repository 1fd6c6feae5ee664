"""The one episode loop: any controller toward each episode's goal image, environments stepped together.

    results = run_episodes("tworoom", episodes, budget=50, resolution=64, controller=mpc)

Every controller (``control.protocol.Controller``) runs here: evaluation's methods, the agent's
calibration and distillation rollouts, benchmarks. Environments of one batch step together and the
controller sees every environment of the batch in one call. Environments are used only through the
goal-reaching capability (``jepaworld.envs.goal``): ``set_state``, ``render_state``, ``is_success``,
``get_state``. Depends on ``envs/`` alone (and this folder).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from jepaworld.control.episodes import GoalEpisode
from jepaworld.control.perturb import Perturbation
from jepaworld.control.protocol import Controller, ReadsState
from jepaworld.envs import pool
from jepaworld.envs.goal import GoalGymEnv, goal_distance


@dataclass
class EpisodeResult:
    index: int
    success: bool
    steps: int  # env steps used (to success, or the whole budget)
    final_distance: float
    frames: list[np.ndarray] = field(default_factory=list)  # recorded (obs | goal) frames, if asked
    perturbed_at: int | None = None  # env step of the mid-episode perturbation (None: not perturbed)
    # an agent's decisions (``agent.run.run_agent``); nan / 0 for other controllers
    decision_ms: float = math.nan  # this env's share of the decisions' wall time, whole episode
    model_calls: int = 0  # network evaluations made for it (encoder + predictor steps + policy calls)
    plans: int = 0  # decisions that planned for it
    decisions: int = 0  # action blocks decided
    alarms: int | None = None  # guarded agent: decisions over the surprise threshold, the perturbation's excluded
    detected: bool | None = None  # guarded agent, perturbed episode: the perturbation's frame exceeded it

    @property
    def steps_to_recover(self) -> int | None:
        """Env steps from the perturbation to success (None: not perturbed, or never succeeded)."""
        if self.perturbed_at is None or not self.success:
            return None
        return self.steps - self.perturbed_at


class EpisodeBatch:
    """One batch of episodes stepped together: envs placed at their starts, success, steps, frames."""

    def __init__(self, env_name: str, episodes: list[GoalEpisode], resolution: int, record: int,
                 perturb: Perturbation | None = None) -> None:  # fmt: skip
        self.episodes, self.perturb = episodes, perturb
        self.envs: list[GoalGymEnv] = []
        frames: list[np.ndarray] = []
        goals: list[np.ndarray] = []
        for ep in episodes:
            env = pool.take(env_name, resolution)  # reused across batches and methods
            env.reset(seed=ep.index)
            env.set_state(ep.start)
            self.envs.append(env)
            frames.append(env.render())
            goals.append(env.render_state(ep.goal))
        self.obs, self.goal_frames = np.stack(frames), np.stack(goals)  # (B, H, W, 3) each
        self.done = np.zeros(len(episodes), dtype=bool)
        self.steps = np.zeros(len(episodes), dtype=int)
        self.perturbed_at: list[int | None] = [None] * len(episodes)
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
            self.steps[i] += 1
            if env.is_success(env.get_state(), self.episodes[i].goal):
                self.done[i] = True
            elif self.perturb is not None and self.steps[i] == self.perturb.step:
                self.perturb.apply(env, self.episodes[i].index)
                self.perturbed_at[i] = int(self.steps[i])
                obs = env.render()
                self.done[i] = env.is_success(env.get_state(), self.episodes[i].goal)
            self.obs[i] = obs
        self._snap()

    def results(self) -> list[EpisodeResult]:
        out = []
        for env, ep, done, steps, frames, hit in zip(self.envs, self.episodes, self.done, self.steps, self.frames,
                                                      self.perturbed_at, strict=True):  # fmt: skip
            out.append(EpisodeResult(index=ep.index, success=bool(done), steps=int(steps),
                                     final_distance=goal_distance(env, env.get_state(), ep.goal), frames=frames,
                                     perturbed_at=hit))  # fmt: skip
            pool.give(env)
        return out


def run_episodes(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, controller: Controller, record: int = 0,
    perturb: Perturbation | None = None,
) -> list[EpisodeResult]:  # fmt: skip
    """``controller`` toward each episode's goal image for ``budget`` env steps: one ``act`` per block of
    ``controller.frameskip`` steps, with the frames seen after the last block; stops when every env succeeded.

    record: episodes with an index below it keep their (obs | goal) frames; perturb: applied at its env step.
    """
    batch = EpisodeBatch(env_name, episodes, resolution, record, perturb)
    controller.reset(batch.goal_frames)
    reader = controller if isinstance(controller, ReadsState) else None  # a baseline: it reads the true states
    goals = np.stack([ep.goal for ep in episodes])
    fs = controller.frameskip
    used = 0
    while used < budget and not batch.done.all():
        if reader is not None:
            reader.see_states(np.stack([env.get_state() for env in batch.envs]), goals)
        block = controller.act(batch.obs, active=~batch.done)  # (B, fs, A)
        for k in range(min(fs, budget - used)):
            batch.step(block[:, k])
            used += 1
    return batch.results()
