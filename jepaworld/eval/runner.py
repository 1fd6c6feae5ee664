"""Run goal-reaching episodes: latent MPC, random actions, and the straight-to-goal heuristic.

All methods run on the same ``GoalEpisode`` list; environments of one batch step together and
the planner sees every environment of the batch in one call.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jepaworld.envs import EnvSpec, make
from jepaworld.eval.protocol import GoalEpisode
from jepaworld.plan.controller import Controller
from jepaworld.plan.mpc import LatentMPC


@dataclass
class EpisodeResult:
    index: int
    success: bool
    steps: int  # env steps used (to success, or the whole budget)
    final_distance: float
    frames: list[np.ndarray] = field(default_factory=list)  # recorded (obs | goal) frames, if asked


Policy = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


def _start_envs(spec: EnvSpec, episodes: list[GoalEpisode], resolution: int) -> tuple[list, np.ndarray]:
    """One env per episode, reset to its start: the envs and their first frames (B, H, W, 3)."""
    envs, frames = [], []
    for ep in episodes:
        env = make(spec.name, resolution=resolution)
        obs, _ = env.reset(seed=ep.index, options={"state": ep.start, "goal": ep.goal})
        envs.append(env)
        frames.append(obs)
    return envs, np.stack(frames)


def _distance(spec: EnvSpec, state: np.ndarray, goal: np.ndarray) -> float:
    return float(spec.distance(state, goal)) if spec.distance is not None else float(np.linalg.norm(state - goal))


class _Batch:
    """Book-keeping of one batch of episodes: success, steps, recorded frames."""

    def __init__(self, spec: EnvSpec, episodes: list[GoalEpisode], resolution: int, record: int) -> None:
        self.spec, self.episodes = spec, episodes
        self.envs, self.obs = _start_envs(spec, episodes, resolution)
        self.goal_frames = np.stack([env.render_state(ep.goal) for env, ep in zip(self.envs, episodes, strict=True)])
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
            if self.spec.success(env.get_state(), self.episodes[i].goal):
                self.done[i] = True
        self._snap()

    def results(self) -> list[EpisodeResult]:
        out = []
        for i, ep in enumerate(self.episodes):
            state = self.envs[i].get_state()
            out.append(
                EpisodeResult(
                    index=ep.index, success=bool(self.done[i]), steps=int(self.steps[i]),
                    final_distance=_distance(self.spec, state, ep.goal), frames=self.frames[i],
                )  # fmt: skip
            )
        for env in self.envs:
            env.close()
        return out


def run_policy(
    spec: EnvSpec, episodes: list[GoalEpisode], budget: int, resolution: int, policy: Policy, seed: int = 0,
    record: int = 0,
) -> list[EpisodeResult]:
    """A reactive baseline: ``policy(state, goal, rng) -> action`` each step."""
    rng = np.random.default_rng(seed)
    batch = _Batch(spec, episodes, resolution, record)
    for _ in range(budget):
        if batch.done.all():
            break
        actions = np.stack(
            [policy(env.get_state(), ep.goal, rng) for env, ep in zip(batch.envs, episodes, strict=True)]
        )
        batch.step(actions)
    return batch.results()


def run_mpc(
    spec: EnvSpec, episodes: list[GoalEpisode], budget: int, resolution: int, mpc: LatentMPC, record: int = 0,
) -> list[EpisodeResult]:
    """Latent MPC: plan ``horizon`` blocks, execute ``receding`` of them, observe, re-plan."""
    batch = _Batch(spec, episodes, resolution, record)
    controller = Controller(mpc, batch.goal_frames, single=False)
    used = 0
    while used < budget and not batch.done.all():
        block = controller.act(batch.obs)  # (B, fs, A)
        for k in range(min(mpc.frameskip, budget - used)):
            batch.step(block[:, k])
            used += 1
    return batch.results()
