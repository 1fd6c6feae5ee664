"""An agent on goal-reaching episodes: the one episode loop (``jepaworld.control``), and its decision log
folded into the episodes' results (compute, plans, the guard's alarms and detections).

    results, log = run_agent("tworoom", episodes, budget=50, resolution=64, agent=Agent(wm, "guarded"))
"""

from __future__ import annotations

import math
from typing import Any

from jepaworld.agent.agent import Agent
from jepaworld.control import EpisodeResult, GoalEpisode, Perturbation, run_episodes


def run_agent(
    env_name: str, episodes: list[GoalEpisode], budget: int, resolution: int, agent: Agent, record: int = 0,
    perturb: Perturbation | None = None,
) -> tuple[list[EpisodeResult], list[dict[str, Any]]]:  # fmt: skip
    """A ``jepaworld.Agent`` (planner, policy or guarded) toward each episode's goal image, one block per frame.

    Returns the results (with each episode's compute, plans and guard alarms) and the agent's decision log,
    one dict per env and block, tagged with the episode index and the env step it was taken at.
    """
    results = run_episodes(env_name, episodes, budget, resolution, agent, record=record, perturb=perturb)
    return results, score_decisions(agent, results)


def score_decisions(agent: Agent, results: list[EpisodeResult]) -> list[dict[str, Any]]:
    """Fold the log of ``agent``'s last episodes into their ``results`` (in place); -> the log as dicts, each
    tagged with its episode index and env step."""
    fs = agent.frameskip
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
    return log
