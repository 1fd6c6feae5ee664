"""The goal-reaching protocol for a trained world model, beside its baselines.

    result = evaluate(wm, plan_cfg, eval_cfg)      # runs the episodes; writes nothing
    write_eval(result, out)                        # results.json, success.png, latent_distance.png, GIFs

Any environment with the goal-reaching capability (``jepaworld.envs.goal``) can be evaluated;
one without it is refused before anything runs, with the list of what it lacks.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.config import EvalConfig, PlanConfig, write_json
from jepaworld.envs import EnvSpec, get_spec, make
from jepaworld.envs.goal import goal_distance, require_goal_env
from jepaworld.errors import JepaworldError
from jepaworld.eval.episodes import EpisodeDraw, StatePredicate, draw_episodes
from jepaworld.eval.latent_distance import latent_distance_profile
from jepaworld.eval.perturb import Perturbation, make_perturbation
from jepaworld.eval.runner import EpisodeResult, GoalPolicy, run_agent, run_mpc, run_policy
from jepaworld.eval.stats import percentile, wilson_interval
from jepaworld.plan.mpc import LatentMPC
from jepaworld.run.episodes import held_out_episodes

Progress = Callable[[str, int, int], None]  # (method, episodes done, episodes in all)


@dataclass
class MethodSummary:
    method: str
    episodes: int
    successes: int
    success_rate: float
    ci95: tuple[float, float]
    mean_steps_to_success: float
    mean_final_distance: float
    plan_time_median_s: float = float("nan")
    plan_time_p90_s: float = float("nan")
    plans: int = 0
    envs_per_plan: float = float("nan")
    # with --perturb: episodes perturbed mid-way, how many of them reached the goal after, and in how many steps
    perturbed: int = 0
    recovered: int = 0
    mean_steps_to_recover: float = float("nan")
    # agents (--agent): decision compute per env (its share of batched calls) and the guard's alarms
    ms_per_step: float = float("nan")
    model_calls_per_step: float = float("nan")
    ms_per_episode: float = float("nan")
    model_calls_per_episode: float = float("nan")
    plans_per_episode: float = float("nan")
    false_alarm_rate: float = float("nan")  # guarded: decisions over the threshold, the perturbation's excluded
    detection_rate: float = float("nan")  # guarded: perturbations whose first frame exceeded the threshold
    reroutes_per_episode: float = float("nan")  # --memory: times an episode's route was searched again


def summarise(method: str, results: list[EpisodeResult], plan_times: list[float] | None = None,
              envs_per_plan: float = float("nan")) -> MethodSummary:  # fmt: skip
    n = len(results)
    k = sum(r.success for r in results)
    steps = [r.steps for r in results if r.success]
    times = plan_times or []
    hit = [r for r in results if r.perturbed_at is not None]
    recover = [r.steps_to_recover for r in hit if r.steps_to_recover is not None]
    agent = [r for r in results if not math.isnan(r.decision_ms)]
    total_steps = max(sum(r.steps for r in agent), 1)
    guarded = [r for r in agent if r.alarms is not None]
    detected = [r.detected for r in results if r.detected is not None]
    nan = float("nan")
    return MethodSummary(
        method=method, episodes=n, successes=k, success_rate=k / max(n, 1), ci95=wilson_interval(k, n),
        mean_steps_to_success=float(np.mean(steps)) if steps else float("nan"),
        mean_final_distance=float(np.mean([r.final_distance for r in results])) if results else float("nan"),
        plan_time_median_s=percentile(times, 50), plan_time_p90_s=percentile(times, 90), plans=len(times),
        envs_per_plan=envs_per_plan, perturbed=len(hit), recovered=len(recover),
        mean_steps_to_recover=float(np.mean(recover)) if recover else nan,
        ms_per_step=sum(r.decision_ms for r in agent) / total_steps if agent else nan,
        model_calls_per_step=sum(r.model_calls for r in agent) / total_steps if agent else nan,
        ms_per_episode=float(np.mean([r.decision_ms for r in agent])) if agent else nan,
        model_calls_per_episode=float(np.mean([r.model_calls for r in agent])) if agent else nan,
        plans_per_episode=float(np.mean([r.plans for r in agent])) if agent else nan,
        false_alarm_rate=sum(r.alarms for r in guarded) / max(sum(r.decisions for r in guarded), 1) if guarded else nan,
        detection_rate=float(np.mean(detected)) if detected else nan,
    )  # fmt: skip


@dataclass
class EvalResult:
    """Everything one evaluation measured; ``to_dict`` is the content of ``results.json``.

    The first entry of ``summary`` / ``episodes`` is the world model's planner; the rest are
    baselines run on the same episodes.
    """

    protocol: dict[str, Any]
    plan: PlanConfig
    checkpoint: str
    planner_wall_s: float
    summary: dict[str, MethodSummary]
    episodes: dict[str, list[EpisodeResult]]
    draw: EpisodeDraw
    latent_distance: dict[str, list[float]] = field(default_factory=dict)
    decisions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # agents' logs, by method

    @property
    def planner(self) -> str:
        return next(iter(self.summary))

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "plan": {**asdict(self.plan), "description": self.plan.describe()},
            "checkpoint": self.checkpoint,
            "planner_wall_s": self.planner_wall_s,
            "summary": {k: asdict(v) for k, v in self.summary.items()},
            "episodes": {
                k: [{"index": r.index, "success": r.success, "steps": r.steps, "final_distance": r.final_distance,
                     "perturbed_at": r.perturbed_at, "steps_to_recover": r.steps_to_recover,
                     **({"decision_ms": r.decision_ms, "model_calls": r.model_calls, "plans": r.plans,
                         "decisions": r.decisions, "alarms": r.alarms, "detected": r.detected}
                        if not math.isnan(r.decision_ms) else {})}
                    for r in v]
                for k, v in self.episodes.items()
            },  # fmt: skip
            "pairs": [{"episode": e.episode, "t": e.t, "start": e.start.tolist(), "goal": e.goal.tolist()}
                      for e in self.draw.episodes],  # fmt: skip
            "latent_distance": self.latent_distance,
        }


def subset_filter(spec: EnvSpec, subset: str) -> StatePredicate | None:
    if subset == "all":
        return None
    if subset in spec.subsets:
        return spec.subsets[subset]
    known = ", ".join(["all", *spec.subsets])
    raise JepaworldError(f"unknown --subset {subset!r} for {spec.name}; expected one of: {known}")


def baseline_policies(spec: EnvSpec) -> dict[str, GoalPolicy]:
    """Random actions always; the env's straight-to-goal heuristic where it has one."""
    low, high = spec.action_low, spec.action_high

    def random_policy(state: np.ndarray, goal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return rng.uniform(low, high).astype(np.float32)

    policies: dict[str, GoalPolicy] = {"random actions": random_policy}
    if spec.heuristic is not None:  # Two-Room: the agent to the goal; Push-T: the agent only, ignoring the block
        heuristic = spec.heuristic
        policies["straight-to-goal heuristic"] = lambda s, g, rng: heuristic(s, g)
    return policies


def evaluate(
    model: Any,
    plan_cfg: PlanConfig,
    eval_cfg: EvalConfig,
    data_path: str | None = None,
    baselines: bool = True,
    progress: Progress | None = None,
    agents: Sequence[str] = (),
    perturb: str = "none",
    perturb_step: int = 15,
    memory: str | None = None,
) -> EvalResult:
    """Run the protocol with ``model`` (from ``jepaworld.load``) and its baselines; writes nothing.

    agents: ``jepaworld.Agent`` modes to run in place of the plain closed loop ("planner", "policy",
    "guarded"; the last two need ``jepaworld distill RUN``), each logged decision by decision.
    perturb: "none" or "teleport" (``jepaworld.eval.perturb``) at env step ``perturb_step`` of every
    method's episodes, baselines included.
    memory: a memory file (``jepaworld memory build``): the planner also runs routed through it
    (``jepaworld.memory.Navigator``), beside the flat closed loop, on the same episodes.
    """
    meta = model.meta
    spec = get_spec(meta.env)
    res = meta.resolution
    probe = make(meta.env, resolution=res)  # the success test and goal distance, without stepping
    try:
        require_goal_env(probe, meta.env)
        f, ids, held_out = held_out_episodes(meta, data_path)
        draw = draw_episodes(f, ids, eval_cfg, keep=subset_filter(spec, eval_cfg.subset), solved=probe.is_success)
        profile = latent_distance_profile(model, f, ids, seed=eval_cfg.seed,
                                          distance=lambda a, b: goal_distance(probe, a, b))  # fmt: skip
    finally:
        probe.close()
    episodes = draw.episodes
    n = max(1, eval_cfg.n_envs)
    batches = [episodes[i : i + n] for i in range(0, len(episodes), n)]

    perturbation = make_perturbation(meta.env, perturb, perturb_step, eval_cfg.seed)
    t0 = time.perf_counter()
    if agents:
        summaries, per_episode, decisions, guard = _run_agents(model, plan_cfg, eval_cfg, agents, batches,
                                                               perturbation, progress)  # fmt: skip
    else:
        mpc = LatentMPC(model, meta, plan_cfg, spec.action_low, spec.action_high, seed=eval_cfg.seed)
        name = f"{plan_cfg.planner} (world model)"
        results: list[EpisodeResult] = []
        for chunk in batches:
            results += run_mpc(meta.env, chunk, eval_cfg.budget, res, mpc, record=eval_cfg.videos,
                               perturb=perturbation)  # fmt: skip
            if progress:
                progress(name, len(results), len(episodes))
        summaries = {name: summarise(name, results, mpc.plan_times, envs_per_plan=min(n, len(episodes)))}
        per_episode, decisions, guard = {name: results}, {}, None
    plan_wall = time.perf_counter() - t0
    if memory is not None:
        name, results, times, reroutes = _run_memory(model, plan_cfg, eval_cfg, memory, batches, perturbation,
                                                     progress)  # fmt: skip
        summaries[name] = summarise(name, results, times, envs_per_plan=min(n, len(episodes)))
        summaries[name].reroutes_per_episode = float(np.mean(reroutes))
        per_episode[name] = results

    for method, policy in (baseline_policies(spec) if baselines else {}).items():
        results = run_policy(meta.env, episodes, eval_cfg.budget, res, policy, seed=eval_cfg.seed,
                             perturb=perturbation)  # fmt: skip
        summaries[method], per_episode[method] = summarise(method, results), results
        if progress:
            progress(method, len(results), len(episodes))

    protocol = {
        **asdict(eval_cfg), "env": meta.env, "resolution": res, "held_out": held_out, "redrawn": draw.redrawn,
        "description": (
            f"start = random state of a held-out trajectory, goal = the state {eval_cfg.goal_offset} steps later; "
            f"budget {eval_cfg.budget} env steps; subset {eval_cfg.subset}"
            + (f"; at step {perturbation.step} {perturbation.description}" if perturbation else "")
        ),
        "perturb": perturbation.to_dict() if perturbation else None, "agents": list(agents), "memory": memory,
        **({"guard": guard} if guard else {}),
    }  # fmt: skip
    return EvalResult(
        protocol=protocol, plan=plan_cfg, checkpoint=str(getattr(model, "checkpoint_path", "")),
        planner_wall_s=plan_wall, summary=summaries, episodes=per_episode, draw=draw, decisions=decisions,
        latent_distance=profile,
    )  # fmt: skip


def agent_method(mode: str, plan_cfg: PlanConfig) -> str:
    """The summary name of an agent mode."""
    return {"planner": f"planner: {plan_cfg.planner} (world model)", "policy": "policy (distilled)",
            "guarded": f"guarded: policy + {plan_cfg.planner}"}.get(mode, mode)  # fmt: skip


def _run_agents(model: Any, plan_cfg: PlanConfig, eval_cfg: EvalConfig, modes: Sequence[str],
                batches: list[list[Any]], perturbation: Perturbation | None, progress: Progress | None
                ) -> tuple[dict[str, MethodSummary], dict[str, list[EpisodeResult]], dict[str, list[dict[str, Any]]],
                           dict[str, Any] | None]:  # fmt: skip
    """Every agent mode on the same episode batches: summaries, results, decision logs, the guard's settings."""
    from jepaworld.agent import Agent

    agents = {mode: Agent(model, mode, plan_cfg, seed=eval_cfg.seed) for mode in modes}  # fails before any run
    summaries, per_episode, decisions, guard = {}, {}, {}, None
    total = sum(len(b) for b in batches)
    for mode, agent in agents.items():
        name = agent_method(mode, plan_cfg)
        results: list[EpisodeResult] = []
        log: list[dict[str, Any]] = []
        for chunk in batches:
            r, lg = run_agent(model.meta.env, chunk, eval_cfg.budget, model.meta.resolution, agent,
                              record=eval_cfg.videos, perturb=perturbation)  # fmt: skip
            results += r
            log += lg
            if progress:
                progress(name, len(results), total)
        times = agent.mpc.plan_times
        if mode == "planner":  # every plan covers the whole batch, finished episodes included
            per_plan = float(np.mean([len(b) for b in batches]))
        else:  # the guarded agent plans only the rows that triggered
            per_plan = sum(r.plans for r in results) / len(times) if times else float("nan")
        summaries[name] = summarise(name, results, times, envs_per_plan=per_plan)
        per_episode[name], decisions[name] = results, log
        if agent.guard is not None:
            guard = asdict(agent.guard)
    return summaries, per_episode, decisions, guard


def _run_memory(model: Any, plan_cfg: PlanConfig, eval_cfg: EvalConfig, memory: str, batches: list[list[Any]],
                perturbation: Perturbation | None, progress: Progress | None
                ) -> tuple[str, list[EpisodeResult], list[float], list[int]]:  # fmt: skip
    """The planner routed through a memory file, on the same episode batches."""
    from jepaworld.memory import Navigator

    nav = Navigator(model, memory, plan_cfg, seed=eval_cfg.seed)
    name = f"{plan_cfg.planner} + memory route (world model)"
    results: list[EpisodeResult] = []
    reroutes: list[int] = []
    total = sum(len(b) for b in batches)
    try:
        for chunk in batches:
            results += run_mpc(model.meta.env, chunk, eval_cfg.budget, model.meta.resolution, nav,
                               record=eval_cfg.videos, perturb=perturbation)  # fmt: skip
            reroutes += nav.reroutes()
            if progress:
                progress(name, len(results), total)
    finally:
        nav.close()
    return name, results, nav.plan_times, reroutes


def write_eval(result: EvalResult, out: str | Path) -> Path:
    """Write ``OUT/results.json``, ``success.png``, ``latent_distance.png`` and the planner's GIFs."""
    from jepaworld.eval.latent_distance import plot_latent_distance
    from jepaworld.eval.plots import plot_eval
    from jepaworld.eval.videos import save_videos

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    report = result.to_dict()
    write_json(out / "results.json", report)
    save_videos(result.episodes[result.planner], out / "videos")
    for name, results in result.episodes.items():  # --memory: the routed planner's episodes beside the flat one's
        if "memory route" in name:
            save_videos(results, out / "videos" / "memory-route")
    plot_eval(report, out / "success.png")
    if result.latent_distance:
        plot_latent_distance(result.latent_distance, out / "latent_distance.png")
    if result.decisions:  # agents: every decision, and one episode's surprise and loops as a plot
        from jepaworld.agent.plots import plot_decisions

        write_json(out / "decisions.json", result.decisions, indent=None)
        plot_decisions(result.decisions, out / "agent.png", protocol=report["protocol"])
    return out / "results.json"
