"""``jepaworld distill RUN``: a fast policy that imitates the latent planner, from the world model alone.

Stages (each saved under ``RUN/agent/stages/`` when it finishes, and reused by a later run with the
same settings; ``fresh=True`` starts over):

1. ``hindsight``: start/goal pairs from the run's training episodes (goal k blocks later, k uniform
   in 1..``max_k``), labelled with the block the dataset executed from the start (relabelled toward
   the state it reached). Cheap: no planning. The policy is fitted on them.
2. ``planner``: new pairs of the same kind, labelled with the first block of a plan made by the
   run's planner (``LatentMPC.plan_latent``), warm-started from the stage-1 policy's latent rollout
   (as the guarded agent re-plans). The plan is CEM's final elite mean (``label="mean"``): measured
   on the demo model, two plans of the same state disagree 3.5x less in it than in the single best
   candidate. The policy is refitted from the stage-1 weights on them (hindsight pairs keep a share
   of each batch).
3. ``dagger-1 .. dagger-R``: the policy drives the environment on protocol-like episodes drawn from
   the *training* episodes (goal ``goal_offset`` steps ahead, ``budget`` steps); the planner labels
   every state it visited; the policy is refitted from the stage-1 weights on all planner labels so
   far (aggregated).
4. ``guard``: the surprise threshold, calibrated on held-out unperturbed trajectories: the final
   policy's own closed loop from held-out starts (``calibrate_guard``), written to
   ``RUN/agent/guard.json`` (recalibrated whenever the policy or the guard settings change).

The last policy is copied to ``RUN/agent/policy.safetensors`` + ``policy.json`` (atomically).
"""

from __future__ import annotations

import copy
import json
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.agent.agent import Agent, agent_folder
from jepaworld.agent.calibrate import calibrate_guard
from jepaworld.agent.fit import FitSettings, fit_policy
from jepaworld.agent.guard import GUARD, load_guard, save_guard
from jepaworld.agent.latent import latent_rollout
from jepaworld.agent.pairs import EncodedEpisodes, Labels, encode_episodes, sample_pairs
from jepaworld.agent.policy import INFO, WEIGHTS, PolicyNet, load_policy, save_policy
from jepaworld.config import EvalConfig, PlanConfig
from jepaworld.control import draw_episodes, run_episodes
from jepaworld.envs import make
from jepaworld.envs.goal import as_goal_env
from jepaworld.errors import JepaworldError
from jepaworld.run.episodes import training_episodes

Progress = Callable[[str, int, int], None]


@dataclass
class DistillConfig:
    """Settings of ``distill`` (every one is recorded with each stage; ``dagger_rounds`` may grow on resume)."""

    episodes: int = 200  # training episodes whose frames give start/goal pairs
    max_k: int = 10  # goals 1..max_k blocks ahead
    hindsight_pairs: int = 20000
    planner_labels: int = 600
    label_batch: int = 100  # pairs planned in one call
    label: str = "mean"  # the plan whose first block is the target: "mean" (CEM's final elite mean) | "best"
    dagger_rounds: int = 8
    dagger_episodes: int = 50  # per round
    goal_offset: int = 25  # DAgger episodes: the evaluation protocol's, on training episodes
    budget: int = 50
    hidden: int = 256
    depth: int = 2
    fit: FitSettings = field(default_factory=FitSettings)
    quantile: float = 0.99  # the guard's
    guard_rollouts: int = 200  # policy episodes from held-out starts its threshold is calibrated on
    stall_blocks: int = 4
    follow_blocks: int = 5  # (at most the planner's horizon)
    seed: int = 0  # pair draws, the policy's initial weights, fits, DAgger episodes, planner noise (no global RNG)

    def check(self) -> None:
        for name in ("episodes", "max_k", "hindsight_pairs", "label_batch", "dagger_episodes", "goal_offset",
                     "budget", "hidden", "depth", "stall_blocks", "follow_blocks", "guard_rollouts"):  # fmt: skip
            if getattr(self, name) < 1:
                raise JepaworldError(f"distill: {name} must be >= 1, got {getattr(self, name)}")
        if self.planner_labels < 0 or self.dagger_rounds < 0:
            raise JepaworldError("distill: planner_labels and dagger_rounds must be >= 0")
        if self.label not in ("mean", "best"):
            raise JepaworldError(f"distill: label must be 'mean' or 'best', got {self.label!r}")
        if not 0 < self.quantile < 1:
            raise JepaworldError(f"distill: quantile must be in (0, 1), got {self.quantile}")


@dataclass
class StageInfo:
    stage: str
    reused: bool
    labels: int
    fit: dict[str, float]
    seconds: float
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class DistillResult:
    folder: Path
    stages: list[StageInfo]
    guard: Any  # GuardConfig


_STAGE_KEYS = {  # the settings each stage depends on (with those of the stages before it)
    "hindsight": ("episodes", "max_k", "hindsight_pairs", "hidden", "depth", "fit", "seed"),
    "planner": ("planner_labels", "label_batch", "label"),
    "dagger": ("dagger_episodes", "goal_offset", "budget"),
}


def _settings(cfg: DistillConfig, plan: PlanConfig, model: Any, stage: str) -> dict[str, Any]:
    """What stage ``stage`` ("hindsight", "planner", "dagger-R") was made with; a resume must match it."""
    d = asdict(cfg)
    order = list(_STAGE_KEYS)
    upto = order[: order.index(stage.split("-")[0]) + 1]
    out: dict[str, Any] = {k: d[k] for s in upto for k in _STAGE_KEYS[s]}
    if len(upto) > 1:
        out["plan"] = asdict(plan)
    out["world_model_step"] = int(model.meta.step)
    return out


def _differences(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


class _Stages:
    """The stage files of ``RUN/agent/stages``: labels (``NAME.npz``) and the policy after it (``NAME.*``)."""

    def __init__(self, folder: Path, settings: Callable[[str], dict[str, Any]]) -> None:
        self.dir, self.settings = folder / "stages", settings

    def done(self, name: str) -> bool:
        info = self.dir / f"{name}.json"
        if not info.exists() or not (self.dir / f"{name}.npz").exists():
            return False
        old = json.loads(info.read_text()).get("settings", {})
        diff = _differences(old, self.settings(name))
        if diff:
            raise JepaworldError(
                f"{self.dir}: stage {name!r} was distilled with other settings ({'; '.join(diff[:4])}); "
                "use the same options to resume, or --fresh to start over"
            )
        return True

    def load(self, name: str) -> tuple[Labels, PolicyNet, dict[str, Any]]:
        policy, info = load_policy(self.dir, name)
        return Labels.load(self.dir / f"{name}.npz"), policy, info

    def save(self, name: str, labels: Labels, policy: PolicyNet, info: dict[str, Any]) -> None:
        labels.save(self.dir / f"{name}.npz")
        save_policy(policy, self.dir, {"stage": name, "settings": self.settings(name), **info}, name=name)


def distill(model: Any, cfg: DistillConfig | None = None, plan: PlanConfig | None = None,
            folder: str | Path | None = None, fresh: bool = False, progress: Progress | None = None
            ) -> DistillResult:  # fmt: skip
    """Run (or resume) every stage; writes ``FOLDER/policy.safetensors``, ``policy.json``, ``guard.json``
    (``FOLDER``: ``RUN/agent``)."""
    cfg = cfg or DistillConfig()
    cfg.check()
    plan = plan or model.config.plan
    folder = Path(folder) if folder is not None else agent_folder(model)
    if fresh:
        shutil.rmtree(folder / "stages", ignore_errors=True)
        for name in (WEIGHTS, INFO, GUARD):
            (folder / name).unlink(missing_ok=True)
    stages = _Stages(folder, lambda stage: _settings(cfg, plan, model, stage))
    mpc = model.mpc(plan, cfg.seed)
    fsA = model.meta.frameskip * model.meta.action_dim
    lo, hi = (b.float().cpu() for b in mpc.bounds)
    enc: list[EncodedEpisodes] = []

    def encoded() -> EncodedEpisodes:  # only when a stage needs new pairs
        if not enc:
            enc.append(encode_episodes(model, cfg.episodes, cfg.seed, progress))
        return enc[0]

    done: list[StageInfo] = []

    # 1. hindsight -----------------------------------------------------------------------------------
    t0 = time.perf_counter()
    if stages.done("hindsight"):
        hindsight, policy, info = stages.load("hindsight")
        done.append(StageInfo("hindsight", True, len(hindsight), info.get("fit", {}), info.get("seconds", 0.0)))
    else:
        hindsight = sample_pairs(encoded(), cfg.hindsight_pairs, cfg.max_k, np.random.default_rng(cfg.seed))
        policy = PolicyNet(model.cfg.embed_dim, fsA, cfg.hidden, cfg.depth, seed=cfg.seed)
        z = torch.as_tensor(hindsight.z_hist[:, -1])
        policy.set_statistics(z, torch.as_tensor(hindsight.z_goal) - z, lo, hi)
        fit = fit_policy(policy, hindsight, cfg.fit, cfg.seed, progress=progress, stage="fitting (hindsight)")
        seconds = time.perf_counter() - t0
        stages.save("hindsight", hindsight, policy, {"fit": fit, "seconds": seconds})
        done.append(StageInfo("hindsight", False, len(hindsight), fit, seconds))
    base = copy.deepcopy(policy)  # later stages refit from these weights on all planner labels so far

    # 2. planner labels on dataset pairs -----------------------------------------------------------
    planner_parts: list[Labels] = []
    if cfg.planner_labels:
        t0 = time.perf_counter()
        if stages.done("planner"):
            labels, policy, info = stages.load("planner")
            done.append(StageInfo("planner", True, len(labels), info.get("fit", {}), info.get("seconds", 0.0)))
        else:
            pairs = sample_pairs(encoded(), cfg.planner_labels, cfg.max_k, np.random.default_rng(cfg.seed + 1))
            labels = label_with_planner(model, mpc, policy, pairs, cfg.label_batch, progress, "planner labels",
                                        cfg.label)  # fmt: skip
            policy = copy.deepcopy(base)
            fit = fit_policy(policy, labels, cfg.fit, cfg.seed + 1, extra=hindsight, progress=progress,
                             stage="fitting (planner labels)")  # fmt: skip
            seconds = time.perf_counter() - t0
            stages.save("planner", labels, policy, {"fit": fit, "seconds": seconds})
            done.append(StageInfo("planner", False, len(labels), fit, seconds))
        planner_parts.append(labels)

    # 3. DAgger rounds in the environment ----------------------------------------------------------
    for r in range(1, cfg.dagger_rounds + 1):
        name = f"dagger-{r}"
        t0 = time.perf_counter()
        if stages.done(name):
            labels, policy, info = stages.load(name)
            done.append(StageInfo(name, True, len(labels), info.get("fit", {}), info.get("seconds", 0.0),
                                  info.get("rollouts", {})))  # fmt: skip
        else:
            states, rollouts = policy_states(model, policy, cfg, seed=cfg.seed + 100 * r, progress=progress,
                                             stage=f"{name}: policy episodes")  # fmt: skip
            labels = label_with_planner(model, mpc, policy, states, cfg.label_batch, progress, f"{name}: labels",
                                        cfg.label)  # fmt: skip
            policy = copy.deepcopy(base)
            fit = fit_policy(policy, Labels.cat([*planner_parts, labels]), cfg.fit, cfg.seed + 1 + r, extra=hindsight,
                             progress=progress, stage=f"{name}: fitting")  # fmt: skip
            seconds = time.perf_counter() - t0
            stages.save(name, labels, policy, {"fit": fit, "seconds": seconds, "rollouts": rollouts})
            done.append(StageInfo(name, False, len(labels), fit, seconds, rollouts))
        planner_parts.append(labels)

    last = done[-1]
    save_policy(policy, folder, {"settings": stages.settings(last.stage), "dagger_rounds": cfg.dagger_rounds,
                                 "stages": [asdict(s) for s in done],
                                 "world_model": str(getattr(model, "checkpoint_path", "")),
                                 "final_stage": last.stage})  # fmt: skip

    # 4. the guard ---------------------------------------------------------------------------------
    t0 = time.perf_counter()
    guard = None
    made = {"world_model_step": int(model.meta.step), "policy_stage": last.stage, "rollouts": cfg.guard_rollouts,
            "goal_offset": cfg.goal_offset, "budget": cfg.budget, "seed": cfg.seed}  # fmt: skip
    if (folder / GUARD).exists():
        old = load_guard(folder)
        mine = (cfg.quantile, cfg.stall_blocks, cfg.follow_blocks)
        same = (old.quantile, old.stall_blocks, old.follow_blocks) == mine
        if same and old.calibration.get("made_with") == made:
            guard = old
            done.append(StageInfo("guard", True, old.calibration.get("frames", 0), {}, 0.0))
    if guard is None:
        if progress:
            progress("calibrating the surprise guard", 0, 1)
        guard = calibrate_guard(model, cfg.quantile, seed=cfg.seed, policy=policy, rollouts=cfg.guard_rollouts,
                                goal_offset=cfg.goal_offset, budget=cfg.budget, stall_blocks=cfg.stall_blocks,
                                follow_blocks=cfg.follow_blocks)  # fmt: skip
        guard.calibration["made_with"] = made
        save_guard(guard, folder)
        if progress:
            progress("calibrating the surprise guard", 1, 1)
        done.append(StageInfo("guard", False, guard.calibration["frames"], {}, time.perf_counter() - t0))
    return DistillResult(folder=folder, stages=done, guard=guard)


def label_with_planner(model: Any, mpc: Any, policy: PolicyNet, pairs: Labels, batch: int,
                       progress: Progress | None = None, stage: str = "labels",
                       label: str = "mean") -> Labels:  # fmt: skip
    """Target of each pair = the first block of a plan from its history toward its goal, warm-started from the
    policy's latent rollout (as the guarded agent plans); ``label``: the plan is CEM's final elite mean ("mean")
    or the best candidate evaluated ("best")."""
    device = mpc.device
    z_hist, hist_blocks, z_goal, _ = pairs.tensors(device)
    targets = []
    for i in range(0, len(pairs), batch):
        sl = slice(i, i + batch)
        init = latent_rollout(model, policy, z_hist[sl], hist_blocks[sl], z_goal[sl], mpc.cfg.horizon)
        result = mpc.plan_latent(z_hist[sl], z_goal[sl], hist_blocks[sl], init=init)
        plan = result.mean if label == "mean" else result.actions
        targets.append(plan[:, 0].detach().float().cpu().numpy())
        if progress:
            progress(stage, min(i + batch, len(pairs)), len(pairs))
    return Labels(pairs.z_hist, pairs.hist_blocks, pairs.z_goal, np.concatenate(targets).astype(np.float32))


class _Visits:
    """The policy-mode agent as a controller that also keeps every (history, goal) it decided from, running
    envs only (targets still empty)."""

    def __init__(self, agent: Agent) -> None:
        self.agent, self.frameskip = agent, agent.frameskip
        self.parts: list[Labels] = []

    def reset(self, goal_frames: np.ndarray) -> None:
        self.agent.reset(goal_frames)

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        block = self.agent.act(obs, active)
        h, z_goal = self.agent.history, self.agent.z_goal
        assert h.z_hist is not None and h.hist_blocks is not None  # act pushed the frame
        rows = torch.as_tensor(np.ones(len(obs), bool) if active is None else active, device=z_goal.device)
        n, fsA = int(rows.sum()), h.block_dim
        self.parts.append(Labels(h.z_hist[rows].cpu().numpy(), h.hist_blocks[rows].cpu().numpy(),
                                 z_goal[rows].cpu().numpy(), np.zeros((n, fsA), np.float32)))  # fmt: skip
        return block


@torch.no_grad()
def policy_states(model: Any, policy: PolicyNet, cfg: DistillConfig, seed: int, progress: Progress | None = None,
                  stage: str = "policy episodes") -> tuple[Labels, dict[str, float]]:  # fmt: skip
    """Run the policy (the agent's policy mode) on protocol-like episodes drawn from the training episodes;
    every (history, goal) it visited (targets still empty) and how it did."""
    meta = model.meta
    f, train = training_episodes(model.meta, "the policy is distilled from")
    probe = as_goal_env(make(meta.env, resolution=meta.resolution), meta.env)
    eval_cfg = EvalConfig(episodes=cfg.dagger_episodes, goal_offset=cfg.goal_offset, budget=cfg.budget, seed=seed)
    episodes = draw_episodes(f, train, eval_cfg, solved=probe.is_success).episodes
    visits = _Visits(Agent(model, "policy", policy=policy))
    successes = steps = 0
    n_batch = 50
    for start in range(0, len(episodes), n_batch):
        results = run_episodes(meta.env, episodes[start : start + n_batch], cfg.budget, meta.resolution, visits)
        successes += sum(r.success for r in results)
        steps += sum(r.steps for r in results)
        if progress:
            progress(stage, min(start + n_batch, len(episodes)), len(episodes))
    states = Labels.cat(visits.parts)
    return states, {"episodes": len(episodes), "policy_success": successes / max(len(episodes), 1),
                    "states": len(states), "mean_steps": steps / max(len(episodes), 1)}  # fmt: skip
