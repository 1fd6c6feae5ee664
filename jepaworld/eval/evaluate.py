"""``jepaworld eval``: the goal-reaching protocol for a checkpoint, beside its baselines.

Writes ``OUT/results.json`` (settings, per-method summary, per-episode results), videos of a few
episodes (observation beside goal) and plots.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.config import EvalConfig, PlanConfig, atomic_write_text
from jepaworld.data import EpisodeFile, check_compatible
from jepaworld.envs import EnvSpec, get_spec
from jepaworld.eval.latent_distance import latent_distance_profile, plot_latent_distance
from jepaworld.eval.protocol import GoalEpisode, draw_episodes
from jepaworld.eval.runner import EpisodeResult, run_mpc, run_policy
from jepaworld.eval.stats import percentile, wilson_interval
from jepaworld.plan.mpc import LatentMPC

log = logging.getLogger(__name__)


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


def summarise(method: str, results: list[EpisodeResult], plan_times: list[float] | None = None,
              envs_per_plan: float = float("nan")) -> MethodSummary:  # fmt: skip
    n = len(results)
    k = sum(r.success for r in results)
    steps = [r.steps for r in results if r.success]
    times = plan_times or []
    return MethodSummary(
        method=method, episodes=n, successes=k, success_rate=k / max(n, 1), ci95=wilson_interval(k, n),
        mean_steps_to_success=float(np.mean(steps)) if steps else float("nan"),
        mean_final_distance=float(np.mean([r.final_distance for r in results])) if results else float("nan"),
        plan_time_median_s=percentile(times, 50), plan_time_p90_s=percentile(times, 90), plans=len(times),
        envs_per_plan=envs_per_plan,
    )  # fmt: skip


def subset_filter(spec: EnvSpec, subset: str) -> Callable[[np.ndarray, np.ndarray], bool] | None:
    if subset == "all":
        return None
    if subset == "cross-wall":
        if spec.cross_wall is None:
            raise ValueError(f"--subset cross-wall needs an env with two rooms; {spec.name} has none")
        return spec.cross_wall
    raise ValueError(f"unknown --subset {subset!r}; expected 'all' or 'cross-wall'")


def held_out_episodes(model: Any, data_path: str | None) -> tuple[EpisodeFile, list[int]]:
    """The checkpoint's validation episodes, or every episode of a separate file."""
    meta = model.meta
    if data_path is None:
        f = EpisodeFile(meta["data_path"])
        return f, list(meta["val_episodes"])
    f = EpisodeFile(data_path)
    f.validate()
    check_compatible(f, env=meta["env"], resolution=meta["resolution"])
    return f, list(range(f.n_episodes))


def evaluate(
    model: Any,
    plan_cfg: PlanConfig,
    eval_cfg: EvalConfig,
    out: str | Path,
    data_path: str | None = None,
    baselines: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """Run the protocol with ``model`` (from ``jepaworld.load``), write results under ``out``."""
    out = Path(out)
    meta = model.meta
    spec = get_spec(meta["env"])
    f, ids = held_out_episodes(model, data_path)
    episodes = draw_episodes(f, ids, eval_cfg, keep=subset_filter(spec, eval_cfg.subset))
    res = int(meta["resolution"])
    low, high = spec.action_low, spec.action_high
    summaries: dict[str, MethodSummary] = {}
    per_episode: dict[str, list[EpisodeResult]] = {}

    def batches() -> list[list[GoalEpisode]]:
        n = max(1, eval_cfg.n_envs)
        return [episodes[i : i + n] for i in range(0, len(episodes), n)]

    t0 = time.perf_counter()
    mpc = LatentMPC(model, model.normalizer, plan_cfg, frameskip=meta["frameskip"], history=meta["history"],
                    action_low=low, action_high=high, seed=eval_cfg.seed)  # fmt: skip
    results: list[EpisodeResult] = []
    for chunk in batches():
        results += run_mpc(spec, chunk, eval_cfg.budget, res, mpc, record=eval_cfg.videos)
        if progress:
            progress("planner", len(results), len(episodes))
    name = f"{plan_cfg.planner} (world model)"
    summaries[name] = summarise(name, results, mpc.plan_times, envs_per_plan=min(eval_cfg.n_envs, len(episodes)))
    per_episode[name] = results
    plan_wall = time.perf_counter() - t0

    if baselines:
        def random_policy(state: np.ndarray, goal: np.ndarray, rng: np.random.Generator) -> np.ndarray:
            return rng.uniform(low, high).astype(np.float32)

        policies: dict[str, Callable] = {"random actions": random_policy}
        if spec.heuristic is not None:
            policies["straight-to-goal heuristic"] = lambda s, g, rng: spec.heuristic(s, g)
        for method, policy in policies.items():
            results = run_policy(spec, episodes, eval_cfg.budget, res, policy, seed=eval_cfg.seed)
            summaries[method] = summarise(method, results)
            per_episode[method] = results
            if progress:
                progress(method, len(results), len(episodes))

    profile = latent_distance_profile(model, f, ids, seed=eval_cfg.seed)
    report = {
        "latent_distance": profile,
        "protocol": {
            **asdict(eval_cfg),
            "env": meta["env"],
            "resolution": res,
            "held_out": data_path or f"validation episodes of {meta['data_path']}",
            "description": (
                f"start = random state of a held-out trajectory, goal = the state {eval_cfg.goal_offset} "
                f"steps later; budget {eval_cfg.budget} env steps; subset {eval_cfg.subset}"
            ),
        },
        "plan": asdict(plan_cfg),
        "checkpoint": str(getattr(model, "checkpoint_path", "")),
        "planner_wall_s": plan_wall,
        "summary": {k: asdict(v) for k, v in summaries.items()},
        "episodes": {
            k: [{"index": r.index, "success": r.success, "steps": r.steps, "final_distance": r.final_distance}
                for r in v]
            for k, v in per_episode.items()
        },  # fmt: skip
        "pairs": [{"episode": e.episode, "t": e.t, "start": e.start.tolist(), "goal": e.goal.tolist()}
                  for e in episodes],  # fmt: skip
    }
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "results.json", json.dumps(report, indent=2))
    from jepaworld.eval.videos import save_videos

    save_videos(per_episode[name], out / "videos")
    from jepaworld.eval.plots import plot_eval

    plot_eval(report, out / "success.png")
    plot_latent_distance(profile, out / "latent_distance.png")
    return report
