"""Run goal-reaching episodes: latent MPC, and reactive baselines (random, straight-to-goal).

All methods run on the same ``GoalEpisode`` list; environments of one batch step together and
the planner sees every environment of the batch in one call. Environments are used only through
the goal-reaching capability (``jepaworld.envs.goal``): ``set_state``, ``render_state``,
``is_success``, ``get_state``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from jepaworld.envs import make
from jepaworld.envs.goal import goal_distance
from jepaworld.eval.episodes import GoalEpisode
from jepaworld.eval.perturb import Perturbation
from jepaworld.plan.mpc import LatentMPC

if TYPE_CHECKING:
    from jepaworld.agent import Agent

# A reactive baseline: (state (S,), goal (S,), rng) -> raw action (A,)
GoalPolicy = Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]


@dataclass
class EpisodeResult:
    index: int
    success: bool
    steps: int  # env steps used (to success, or the whole budget)
    final_distance: float
    frames: list[np.ndarray] = field(default_factory=list)  # recorded (obs | goal) frames, if asked
    perturbed_at: int | None = None  # env step of the mid-episode perturbation (None: not perturbed)
    # an agent's decisions (``run_agent``); nan / 0 for the other runners
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
            env.close()
        return out


def run_policy(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, policy: GoalPolicy, seed: int = 0,
    record: int = 0, perturb: Perturbation | None = None,
) -> list[EpisodeResult]:  # fmt: skip
    """A reactive baseline: ``policy(state, goal, rng) -> action`` every env step."""
    rng = np.random.default_rng(seed)
    batch = EpisodeBatch(env_name, episodes, resolution, record, perturb)
    for _ in range(budget):
        if batch.done.all():
            break
        batch.step(np.stack([policy(env.get_state(), ep.goal, rng) for env, ep in zip(batch.envs, episodes,
                                                                                       strict=True)]))  # fmt: skip
    return batch.results()


def run_mpc(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, mpc: LatentMPC, record: int = 0,
    perturb: Perturbation | None = None,
) -> list[EpisodeResult]:  # fmt: skip
    """Latent MPC toward each episode's goal image, one action block per frame, for ``budget`` env steps."""
    batch = EpisodeBatch(env_name, episodes, resolution, record, perturb)
    mpc.reset(batch.goal_frames)
    used = 0
    while used < budget and not batch.done.all():
        block = mpc.act(batch.obs)  # (B, fs, A)
        for k in range(min(mpc.frameskip, budget - used)):
            batch.step(block[:, k])
            used += 1
    return batch.results()


def run_agent(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, agent: Agent, record: int = 0,
    perturb: Perturbation | None = None,
) -> tuple[list[EpisodeResult], list[dict[str, Any]]]:  # fmt: skip
    """A ``jepaworld.Agent`` (planner, policy or guarded) toward each episode's goal image, one block per frame.

    Returns the results (with each episode's compute, plans and guard alarms) and the agent's decision log,
    one dict per env and block, tagged with the episode index and the env step it was taken at.
    """
    batch = EpisodeBatch(env_name, episodes, resolution, record, perturb)
    agent.reset(batch.goal_frames)
    fs = agent.meta.frameskip
    used = 0
    while used < budget and not batch.done.all():
        block = agent.act(batch.obs, active=~batch.done)  # (B, fs, A)
        for k in range(min(fs, budget - used)):
            batch.step(block[:, k])
            used += 1
    results = batch.results()
    threshold = agent.guard.threshold if agent.guard is not None else None
    log = []
    for d in agent.log:
        r = results[d.env]
        row = {"episode": r.index, "step": d.block * fs, **d.to_dict()}
        log.append(row)
        r.decision_ms = (0.0 if math.isnan(r.decision_ms) else r.decision_ms) + d.ms
        r.model_calls += d.model_calls
        r.plans += int(d.planned)
        r.decisions += 1
        if threshold is None:
            continue
        r.alarms = r.alarms or 0
        event = r.perturbed_at is not None and d.block == -(-r.perturbed_at // fs)  # first frame after it
        over = bool(d.surprise > threshold)
        if event:
            r.detected = over
        elif over:
            r.alarms += 1
    return results, log
