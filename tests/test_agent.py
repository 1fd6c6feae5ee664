"""Two loops: distillation (runs, resumes), the policy's actions, the surprise guard, the decision log, eval."""

import math
import shutil

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import jepaworld
from jepaworld.agent import Agent, DistillConfig, FitSettings, GuardConfig, distill, load_guard, run_agent
from jepaworld.config import PlanConfig
from jepaworld.control import GoalEpisode, Perturbation
from jepaworld.envs import make
from jepaworld.errors import JepaworldError
from tests.strict_json import load_strict

PLAN = PlanConfig(samples=8, elites=2, iterations=1, horizon=2, receding=1, cost="min")
TINY = dict(episodes=4, max_k=4, hindsight_pairs=200, planner_labels=12, label_batch=6, dagger_rounds=1,
            dagger_episodes=3, goal_offset=10, budget=15, guard_rollouts=6,
            fit=FitSettings(steps=20, batch_size=32))  # fmt: skip


@pytest.fixture(scope="module")
def distilled(tiny_run, tmp_path_factory):
    """A copy of the tiny run with a distilled policy and a calibrated guard."""
    run = tmp_path_factory.mktemp("agent") / "run"
    shutil.copytree(tiny_run, run)
    wm = jepaworld.load(run, device="cpu")
    result = distill(wm, DistillConfig(**TINY), plan=PLAN)
    return run, wm, result


def test_distill_writes_the_policy_and_the_guard_and_resumes(distilled):
    run, wm, first = distilled
    agent_dir = run / "agent"
    assert [s.stage for s in first.stages] == ["hindsight", "planner", "dagger-1", "guard"]
    assert not any(s.reused for s in first.stages)
    for name in ("policy.safetensors", "policy.json", "guard.json", "stages/planner.npz", "stages/dagger-1.json"):
        assert (agent_dir / name).exists(), name
    info = load_strict(agent_dir / "policy.json")
    assert "threshold" in load_strict(agent_dir / "guard.json")
    assert info["final_stage"] == "dagger-1" and info["architecture"]["block_dim"] == wm.meta.frameskip * 2
    assert first.stages[2].extra["states"] > 0 and first.stages[1].labels == 12
    guard = load_guard(agent_dir)
    assert guard.threshold > 0 and guard.calibration["frames"] > 0 and guard.quantile == 0.99
    assert guard.calibration["policy"]["frames"] > 0 and guard.calibration["replay"]["frames"] > 0
    again = distill(wm, DistillConfig(**TINY), plan=PLAN)  # everything finished: reused
    assert all(s.reused for s in again.stages)
    more = distill(wm, DistillConfig(**{**TINY, "dagger_rounds": 2}), plan=PLAN)  # one more round only
    assert [(s.stage, s.reused) for s in more.stages] == [("hindsight", True), ("planner", True), ("dagger-1", True),
                                                          ("dagger-2", False), ("guard", False)]  # fmt: skip
    assert load_guard(agent_dir).calibration["made_with"]["policy_stage"] == "dagger-2"  # the new policy's own
    with pytest.raises(JepaworldError, match="--fresh"):  # other settings are refused, not silently mixed
        distill(wm, DistillConfig(**{**TINY, "hindsight_pairs": 100}), plan=PLAN)


def test_policy_actions_have_the_block_shape_and_stay_in_the_box(distilled):
    run, wm, _ = distilled
    agent = Agent(wm, "policy", plan=PLAN)
    env = make("tworoom", resolution=16)
    frames = np.stack([env.render_state(np.array([40.0 + 30 * i, 150.0], np.float32)) for i in range(3)])
    goals = np.stack([env.render_state(np.array([180.0, 40.0 + 20 * i], np.float32)) for i in range(3)])
    agent.reset(goals)
    block = agent.act(frames)
    assert block.shape == (3, wm.meta.frameskip, 2) and block.dtype == np.float32
    assert np.all(block >= -1.0) and np.all(block <= 1.0)
    agent.reset(goals[0])
    assert agent.act(frames[0]).shape == (wm.meta.frameskip, 2)
    with pytest.raises(JepaworldError, match="unknown agent mode"):
        Agent(wm, "fast")


def test_the_policy_starts_from_its_seed_whatever_torchs_global_random_state():
    from jepaworld.agent.policy import PolicyNet

    torch.manual_seed(1)
    state = torch.random.get_rng_state()
    a = PolicyNet(8, 4, hidden=16, depth=2, seed=3)
    assert torch.equal(torch.random.get_rng_state(), state)  # the global generator is left alone
    torch.manual_seed(2)
    b, c = PolicyNet(8, 4, hidden=16, depth=2, seed=3), PolicyNet(8, 4, hidden=16, depth=2, seed=4)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values(), strict=True))
    assert not torch.equal(a.net[0].weight, c.net[0].weight)
    for layer, fan_in in ((a.net[0], 24), (a.net[2], 16), (a.net[4], 16)):  # nn.Linear's own init range
        assert 0.5 / fan_in**0.5 < layer.weight.abs().max() <= 1 / fan_in**0.5


def _episodes() -> list[GoalEpisode]:
    starts = [(50.0, 150.0), (60.0, 60.0)]
    goals = [(80.0, 120.0), (90.0, 90.0)]
    return [GoalEpisode(i, 0, 0, np.array(s, np.float32), np.array(g, np.float32))
            for i, (s, g) in enumerate(zip(starts, goals, strict=True))]  # fmt: skip


def _far_corner(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.array([190.0, 200.0], np.float32) if state[0] < 112 else np.array([30.0, 200.0], np.float32)


def test_guard_plans_on_a_teleport_and_not_otherwise_and_logs_every_decision(distilled):
    run, wm, _ = distilled
    fs = wm.meta.frameskip
    teleport = Perturbation(env="tworoom", kind="teleport", step=2 * fs, seed=0, fn=_far_corner, description="test")
    quiet = GuardConfig(threshold=1e12, stall_blocks=100)  # neither trigger can fire
    # the policy alone and a guard that never fires act alike: same surprise, no plan
    _, policy_log = run_agent("tworoom", _episodes(), 6 * fs, 16, Agent(wm, "policy", plan=PLAN), perturb=teleport)
    results, log = run_agent("tworoom", _episodes(), 6 * fs, 16, Agent(wm, "guarded", plan=PLAN, guard=quiet),
                             perturb=teleport)  # fmt: skip
    assert not any(d["planned"] for d in log) and all(d["loop"] == "policy" for d in log)
    assert [d["surprise"] for d in log] == pytest.approx([d["surprise"] for d in policy_log], nan_ok=True)
    # a threshold between one episode's surprise before the teleport (block 1) and at it (block 2). This tiny
    # model's surprise tells a teleport from a step only roughly (ordinary frames 2-85, teleports 5-45, by
    # position): the episode is the one whose teleport stands out most from its own frame before it
    surprise = {(d["episode"], d["block"]): d["surprise"] for d in policy_log}
    e = max((ep.index for ep in _episodes()), key=lambda i: surprise[i, 2] / surprise[i, 1])
    before, event = surprise[e, 1], surprise[e, 2]
    assert event > 1.2 * before, f"the teleport must be more surprising than the step before it ({event} vs {before})"
    threshold = math.sqrt(before * event)
    guard = GuardConfig(threshold=threshold, stall_blocks=100, follow_blocks=2)
    agent = Agent(wm, "guarded", plan=PLAN, guard=guard)
    plans_before = len(agent.mpc.plan_times)
    results, log = run_agent("tworoom", _episodes(), 4 * fs, 16, agent, perturb=teleport)
    mine = {d["block"]: (d["loop"], d["reason"]) for d in log if d["episode"] == e}
    assert [mine[b] for b in range(3)] == [("policy", ""), ("policy", ""), ("planner", "surprise")]
    assert mine[3][0] == "planner" and len(agent.mpc.plan_times) >= plans_before + 1  # the plan's 2nd block
    assert all(r.perturbed_at == 2 * fs for r in results if r.steps >= 2 * fs)
    # every env and block: a plan exactly where the frame's surprise is over the threshold (the only trigger
    # here), then the plan's 2nd block (follow_blocks = horizon = 2), and the policy otherwise
    for r in results:
        left = 0  # blocks of the last plan still to execute
        for d in sorted((d for d in log if d["episode"] == r.index), key=lambda d: d["block"]):
            fires = bool(d["surprise"] > threshold)  # nan (the first frame): no
            left = 2 if fires else max(left - 1, 0)
            expected = ("planner", "surprise") if fires else ("planner", "plan") if left else ("policy", "")
            assert (d["loop"], d["reason"], d["planned"]) == (*expected, fires), (d, threshold)
    # the log: one decision per running env and block, every field filled
    for r in results:
        mine = [d for d in log if d["episode"] == r.index]
        assert [d["block"] for d in mine] == list(range(-(-r.steps // fs)))
        assert r.decisions == len(mine) and r.plans == sum(d["planned"] for d in mine)
    for d in log:
        assert set(d) >= {"episode", "env", "step", "block", "loop", "reason", "surprise", "latent_cost", "ms",
                          "model_calls", "planned"}  # fmt: skip
        assert d["ms"] >= 0 and d["latent_cost"] >= 0 and d["model_calls"] >= 3
        assert (d["model_calls"] > 3 + PLAN.samples) == d["planned"]
    assert np.isnan(log[0]["surprise"]) and not np.isnan(log[-1]["surprise"])


def test_planner_mode_is_the_eval_closed_loop(distilled):
    from jepaworld.control import run_episodes as run_mpc

    run, wm, _ = distilled
    [reference] = run_mpc("tworoom", _episodes()[:1], 20, 16, wm.mpc(PLAN, seed=3))
    [mine], log = run_agent("tworoom", _episodes()[:1], 20, 16, Agent(wm, "planner", plan=PLAN, seed=3))
    assert (mine.steps, mine.success) == (reference.steps, reference.success)
    assert mine.final_distance == pytest.approx(reference.final_distance, abs=1e-4)
    assert all(d["loop"] == "planner" and d["planned"] for d in log)  # receding 1: a plan every block


def test_eval_agent_policy_with_teleports_writes_the_new_fields(distilled, tmp_path):
    from jepaworld.cli.main import app

    run, _, _ = distilled
    out = tmp_path / "ev"
    r = CliRunner().invoke(app, ["eval", "--ckpt", str(run), "--agent", "policy,guarded", "--perturb", "teleport",
                                 "--perturb-step", "5", "--episodes", "3", "--goal-offset", "10", "--videos", "0",
                                 "--set", "plan.samples=8", "--set", "plan.elites=2", "--set", "plan.iterations=1",
                                 "--out", str(out)])  # fmt: skip
    assert r.exit_code == 0, r.output
    saved = load_strict(out / "results.json")
    assert saved["protocol"]["perturb"]["kind"] == "teleport" and saved["protocol"]["agents"] == ["policy", "guarded"]
    s = saved["summary"]["policy (distilled)"]
    for key in ("perturbed", "recovered", "mean_steps_to_recover", "ms_per_step", "model_calls_per_step",
                "plans_per_episode"):  # fmt: skip
        assert key in s
    assert s["perturbed"] >= 1 and s["ms_per_step"] > 0 and s["plans_per_episode"] == 0
    assert "false_alarm_rate" in saved["summary"]["guarded: policy + cem"]
    assert {"random actions", "straight-to-goal heuristic"} <= set(saved["summary"])
    ep = saved["episodes"]["policy (distilled)"][0]
    assert {"perturbed_at", "steps_to_recover", "model_calls", "plans"} <= set(ep)
    assert load_strict(out / "decisions.json")["policy (distilled)"]
    assert (out / "agent.png").stat().st_size > 0
    r = CliRunner().invoke(app, ["eval", "--ckpt", str(run), "--agent", "fast"])
    assert r.exit_code == 2 and "expected planner" in r.output
