"""The goal-reaching protocol for a trained world model, beside its baselines.

    result = evaluate(wm, plan_cfg, eval_cfg)      # runs the episodes; writes nothing
    write_eval(result, out)                        # results.json, success.png, latent_distance.png, GIFs

Any environment with the goal-reaching capability (``jepaworld.envs.goal``) can be evaluated;
one without it is refused before anything runs, with the list of what it lacks.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.api import LoadedEnsemble
from jepaworld.config import EvalConfig, PlanConfig, write_json
from jepaworld.control import Controller, EpisodeDraw, EpisodeResult, StatePredicate, draw_episodes, make_perturbation
from jepaworld.control import baselines as control_baselines
from jepaworld.envs import EnvSpec, get_spec, make
from jepaworld.envs.goal import as_goal_env, goal_distance
from jepaworld.errors import JepaworldError
from jepaworld.eval.latent_distance import latent_distance_profile
from jepaworld.eval.methods import MethodRun, Progress, protocol_controllers, run_method
from jepaworld.eval.stats import percentile, wilson_interval
from jepaworld.plan.precision import resolve_precision
from jepaworld.run.episodes import held_out_episodes


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
    alarms = sum(r.alarms or 0 for r in guarded)  # every guarded result has its count
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
        false_alarm_rate=alarms / max(sum(r.decisions for r in guarded), 1) if guarded else nan,
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
    ensemble: dict[str, Any] | None = None  # an ensemble's members and penalty (LoadedEnsemble.describe)

    @property
    def planner(self) -> str:
        return next(iter(self.summary))

    def to_dict(self) -> dict[str, Any]:
        return {
            "protocol": self.protocol,
            "plan": {**asdict(self.plan), "description": self.plan.describe()},
            "checkpoint": self.checkpoint,
            "ensemble": self.ensemble,
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
    controllers: Mapping[str, Controller] | None = None,
) -> EvalResult:
    """Run the protocol with ``model`` (from ``jepaworld.load``)'s controllers and the baselines; writes nothing.

    controllers: the named controllers to score (``jepaworld.control.Controller``), in order, the first one's
    episodes filmed; None: the protocol's own (``protocol_controllers``): the latent planner, or
    agents: ``jepaworld.Agent`` modes ("planner", "policy", "guarded"; the last two need
    ``jepaworld distill RUN``), each logged decision by decision; then with
    memory: a memory file (``jepaworld memory build``): the planner also runs routed through it
    (``jepaworld.memory.Navigator``), on the same episodes.
    Every controller runs on batches of ``eval_cfg.n_envs`` episodes; the baselines (``jepaworld.control.baselines``)
    on all of them at once.
    perturb: "none" or "teleport" (``jepaworld.control.perturb``) at env step ``perturb_step`` of every
    method's episodes, baselines included.
    """
    meta = model.meta
    spec = get_spec(meta.env)
    res = meta.resolution
    probe = make(meta.env, resolution=res)  # the success test and goal distance, without stepping
    try:
        goal_probe = as_goal_env(probe, meta.env)
        f, ids, held_out = held_out_episodes(meta, data_path)
        draw = draw_episodes(f, ids, eval_cfg, keep=subset_filter(spec, eval_cfg.subset), solved=goal_probe.is_success)
        profile = latent_distance_profile(model, f, ids, seed=eval_cfg.seed,
                                          distance=lambda a, b: goal_distance(probe, a, b))  # fmt: skip
    finally:
        probe.close()
    episodes = draw.episodes
    n = max(1, eval_cfg.n_envs)
    batches = [episodes[i : i + n] for i in range(0, len(episodes), n)]
    perturbation = make_perturbation(meta.env, perturb, perturb_step, eval_cfg.seed)

    built = controllers is None  # then evaluate closes them
    if controllers is None:
        named = protocol_controllers(model, plan_cfg, eval_cfg, agents, memory)
    else:
        named = dict(controllers)
    runs: dict[str, MethodRun] = {}
    try:
        for name, controller in named.items():
            runs[name] = run_method(name, controller, batches, meta.env, res, eval_cfg.budget, eval_cfg.videos,
                                    perturbation, progress)  # fmt: skip
    finally:
        for controller in named.values() if built else ():
            close = getattr(controller, "close", None)  # a Navigator's memory file
            if close is not None:
                close()
    plan_wall = sum(r.seconds for r in runs.values())
    for name, controller in (control_baselines(spec, eval_cfg.seed) if baselines else {}).items():
        runs[name] = run_method(name, controller, [episodes], meta.env, res, eval_cfg.budget, perturb=perturbation,
                                progress=progress)  # fmt: skip

    summaries = {name: summarise(name, r.results, r.plan_times, r.envs_per_plan) for name, r in runs.items()}
    for name, r in runs.items():
        if r.reroutes is not None:
            summaries[name].reroutes_per_episode = float(np.mean(r.reroutes))
    guard = next((r.guard for r in reversed(runs.values()) if r.guard), None)
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
    device = next(model.parameters()).device
    ran = replace(plan_cfg, precision=resolve_precision(plan_cfg.precision, device))  # "auto" as it ran here
    return EvalResult(
        protocol=protocol, plan=ran, checkpoint=str(getattr(model, "checkpoint_path", "")),
        planner_wall_s=plan_wall, summary=summaries, episodes={name: r.results for name, r in runs.items()},
        draw=draw, decisions={name: r.decisions for name, r in runs.items() if r.decisions is not None},
        latent_distance=profile, ensemble=model.describe() if isinstance(model, LoadedEnsemble) else None,
    )  # fmt: skip


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
