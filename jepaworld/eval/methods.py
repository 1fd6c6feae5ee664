"""The methods an evaluation scores: named controllers on the same episodes, and what each kind records.

Every method runs through the one episode loop (``jepaworld.control.run_episodes``); beside its episodes'
results it leaves its plan times and, for a ``jepaworld.Agent``, the decision log folded into the results
(``agent.run.score_decisions``), for a memory ``Navigator`` the re-routes per episode.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from jepaworld.config import EvalConfig, PlanConfig
from jepaworld.control import Controller, EpisodeResult, GoalEpisode, Perturbation, run_episodes
from jepaworld.plan.mpc import LatentMPC

Progress = Callable[[str, int, int], None]  # (method, episodes done, episodes in all)


@dataclass
class MethodRun:
    """One method's episodes and what its controller recorded over them."""

    results: list[EpisodeResult]
    plan_times: list[float]  # seconds of every plan it made (empty: none, or a controller that does not say)
    envs_per_plan: float
    seconds: float  # wall time of the whole method
    decisions: list[dict[str, Any]] | None = None  # an agent's log
    guard: dict[str, Any] | None = None  # a guarded agent's settings
    reroutes: list[int] | None = None  # a memory route's, per episode


def agent_method(mode: str, plan_cfg: PlanConfig) -> str:
    """The summary name of an agent mode."""
    return {"planner": f"planner: {plan_cfg.planner} (world model)", "policy": "policy (distilled)",
            "guarded": f"guarded: policy + {plan_cfg.planner}"}.get(mode, mode)  # fmt: skip


def protocol_controllers(model: Any, plan_cfg: PlanConfig, eval_cfg: EvalConfig, agents: Sequence[str] = (),
                         memory: str | None = None) -> dict[str, Controller]:  # fmt: skip
    """The world model's controllers by name: the latent planner, or each ``jepaworld.Agent`` mode in ``agents``
    ("planner", "policy", "guarded"); then with ``memory`` (a memory file) the planner routed through it.
    Every one is built before any runs, so a missing policy or memory fails first."""
    out: dict[str, Controller] = {}
    if agents:
        from jepaworld.agent import Agent

        for mode in agents:
            out[agent_method(mode, plan_cfg)] = Agent(model, mode, plan_cfg, seed=eval_cfg.seed)
    else:
        low, high = model.meta.action_bounds()
        out[f"{plan_cfg.planner} (world model)"] = LatentMPC(model, model.meta, plan_cfg, low, high, seed=eval_cfg.seed)
    if memory is not None:
        from jepaworld.memory import Navigator

        out[f"{plan_cfg.planner} + memory route (world model)"] = Navigator(model, memory, plan_cfg,
                                                                           seed=eval_cfg.seed)  # fmt: skip
    return out


def run_method(name: str, controller: Controller, batches: list[list[GoalEpisode]], env: str, resolution: int,
               budget: int, record: int = 0, perturb: Perturbation | None = None,
               progress: Progress | None = None) -> MethodRun:  # fmt: skip
    """``controller`` on every batch of episodes (each batch stepped together), in order."""
    from jepaworld.agent import Agent, score_decisions
    from jepaworld.memory import Navigator

    agent = controller if isinstance(controller, Agent) else None
    routes = controller if isinstance(controller, Navigator) else None
    results: list[EpisodeResult] = []
    decisions: list[dict[str, Any]] = []
    reroutes: list[int] = []
    total = sum(len(b) for b in batches)
    t0 = time.perf_counter()
    for chunk in batches:
        done = run_episodes(env, chunk, budget, resolution, controller, record=record, perturb=perturb)
        if agent is not None:
            decisions += score_decisions(agent, done)
        if routes is not None:
            reroutes += routes.reroutes()
        results += done
        if progress:
            progress(name, len(results), total)
    seconds = time.perf_counter() - t0
    times = list(getattr(controller, "plan_times", []))
    per_plan: float = len(batches[0]) if times else math.nan  # every plan covers the whole (first) batch
    if agent is not None and agent.mode != "planner":  # the guarded agent plans only the rows that triggered
        per_plan = sum(r.plans for r in results) / len(times) if times else math.nan
    elif agent is not None:  # finished episodes included
        per_plan = float(np.mean([len(b) for b in batches]))
    guard = asdict(agent.guard) if agent is not None and agent.guard is not None else None
    return MethodRun(results=results, plan_times=times, envs_per_plan=per_plan, seconds=seconds, guard=guard,
                     decisions=decisions if agent is not None else None,
                     reroutes=reroutes if routes is not None else None)  # fmt: skip
