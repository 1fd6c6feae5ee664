import io
import json
import math

import numpy as np
import pytest
import torch
from rich.console import Console

import jepaworld
from jepaworld.cli.eval import summary_table as cli_summary_table
from jepaworld.config import EvalConfig, PlanConfig
from jepaworld.data import EpisodeFile
from jepaworld.envs import cross_wall, make
from jepaworld.eval import draw_episodes, evaluate, wilson_interval, write_eval
from jepaworld.plan.precision import resolve_precision
from jepaworld.report.evals import summary_html as html_summary_table
from tests.strict_json import load_strict


def test_episode_draw_follows_the_protocol(tiny_data):
    f = EpisodeFile(tiny_data)
    cfg = EvalConfig(episodes=20, goal_offset=10, seed=3)
    eps = draw_episodes(f, [0, 1, 2, 3], cfg).episodes
    again = draw_episodes(f, [0, 1, 2, 3], cfg).episodes
    assert len(eps) == 20 and [(e.episode, e.t) for e in eps] == [(e.episode, e.t) for e in again]
    states = f.state[...]
    for e in eps:
        assert e.episode in (0, 1, 2, 3)
        row = f.ep_offset[e.episode] + e.t
        np.testing.assert_array_equal(e.start, states[row])
        np.testing.assert_array_equal(e.goal, states[row + 10])


def test_cross_wall_subset_and_bad_offsets(tiny_data):
    f = EpisodeFile(tiny_data)
    with pytest.raises(ValueError, match="goal_offset=500"):
        draw_episodes(f, range(f.n_episodes), EvalConfig(episodes=5, goal_offset=500))
    try:
        eps = draw_episodes(f, range(f.n_episodes), EvalConfig(episodes=3, goal_offset=30), keep=cross_wall).episodes
    except ValueError as e:  # tiny data may hold no crossing at all: then the error must say so
        assert "subset" in str(e)
    else:
        assert all(cross_wall(e.start, e.goal) for e in eps)


def test_wilson_interval():
    lo, hi = wilson_interval(45, 50)
    assert lo < 0.9 < hi and 0.75 < lo and hi < 0.97
    assert wilson_interval(0, 50)[0] == 0.0 and wilson_interval(50, 50)[1] == 1.0


def test_evaluate_writes_results_beside_baselines(tiny_run, tmp_path):
    wm = jepaworld.load(tiny_run, device="cpu")
    plan = PlanConfig(samples=16, elites=4, iterations=2, precision="auto")
    cfg = EvalConfig(episodes=4, goal_offset=10, budget=20, n_envs=4, videos=2)
    result = evaluate(wm, plan, cfg)
    assert result.plan.precision == resolve_precision("auto", torch.device("cpu"))  # recorded as it ran here
    assert not (tmp_path / "eval").exists()  # evaluating writes nothing
    write_eval(result, tmp_path / "eval")
    assert set(result.summary) == {"cem (world model)", "random actions", "straight-to-goal heuristic"}
    saved = load_strict(tmp_path / "eval" / "results.json")
    assert saved["protocol"]["goal_offset"] == 10 and saved["plan"]["samples"] == 16
    s = saved["summary"]["cem (world model)"]
    assert s["episodes"] == 4 and s["plans"] >= 1 and s["plan_time_median_s"] > 0
    assert s["mean_steps_to_recover"] is None and s["detection_rate"] is None  # no figure: null, not NaN
    # the tables read these files and older ones (bare NaN) alike
    older = json.loads(json.dumps(result.to_dict()))
    assert math.isnan(older["summary"]["cem (world model)"]["mean_steps_to_recover"])
    for report in (saved, older):
        text = io.StringIO()
        Console(file=text, width=200).print(cli_summary_table(report))
        assert "cem (world model)" in text.getvalue()
        assert "cem (world model)" in html_summary_table(report)
    # the heuristic walks straight at goals 10 steps away: it must do at least as well as random
    summary = saved["summary"]
    assert summary["straight-to-goal heuristic"]["successes"] >= summary["random actions"]["successes"]
    assert len(list((tmp_path / "eval" / "videos").glob("*.gif"))) == 2
    assert (tmp_path / "eval" / "success.png").stat().st_size > 0
    profile = saved["latent_distance"]
    assert len(profile["mean"]) == len(profile["edges"]) - 1 and sum(profile["count"]) == 600
    assert (tmp_path / "eval" / "latent_distance.png").stat().st_size > 0


def test_plan_api_returns_bounded_actions_and_checks_inputs(tiny_run):
    wm = jepaworld.load(tiny_run, device="cpu")
    env = make("tworoom", resolution=16)
    obs, _ = env.reset(seed=0)
    goal = env.render_state(np.array([60.0, 150.0], np.float32))
    plan = PlanConfig(samples=16, elites=4, iterations=2)
    actions = wm.plan(obs, goal, plan=plan)
    assert actions.shape == (25, 2) and np.all(np.abs(actions) <= 1.0)
    with pytest.raises(ValueError, match=r"\(16, 16, 3\)"):
        wm.plan(obs, np.zeros((32, 32, 3), np.uint8), plan=plan)


@pytest.mark.parametrize("receding", [1, 2])
def test_controller_drives_exactly_like_the_evaluation_loop(tiny_run, receding):
    """wm.controller(goal).act(obs), block by block, ends where run_episodes ends on the same episode."""
    from jepaworld.control import GoalEpisode
    from jepaworld.control import run_episodes as run_mpc

    wm = jepaworld.load(tiny_run, device="cpu")
    plan = PlanConfig(samples=16, elites=4, iterations=2, horizon=3, receding=receding, cost="min")
    start, goal = np.array([60.0, 150.0], np.float32), np.array([80.0, 120.0], np.float32)
    blocks, fs = 4, wm.meta.frameskip
    [reference] = run_mpc("tworoom", [GoalEpisode(0, 0, 0, start, goal)], blocks * fs, 16, wm.mpc(plan, seed=3))

    env = make("tworoom", resolution=16)
    obs, _ = env.reset(seed=0, options={"state": start, "goal": goal})
    ctrl = wm.controller(env.render_state(goal), plan=plan, seed=3)
    steps = 0
    for _ in range(blocks):
        block = ctrl.act(obs)
        assert block.shape == (fs, 2) and np.all(np.abs(block) <= 1.0)
        for action in block:
            obs, *_ = env.step(action)
            steps += 1
            if env.is_success(env.get_state(), goal):
                break
        if env.is_success(env.get_state(), goal):
            break
    assert steps == reference.steps
    assert np.linalg.norm(env.get_state() - goal) == pytest.approx(reference.final_distance, abs=1e-4)
    assert ctrl.plans == -(-steps // (fs * receding))  # one plan every `receding` blocks
    with pytest.raises(ValueError, match="must match the goal"):
        ctrl.act(np.zeros((8, 8, 3), np.uint8))


def test_observe_then_decide_is_act(tiny_run):
    """act(obs) split in two (what the memory Navigator does around retarget) hands out the same blocks."""
    wm = jepaworld.load(tiny_run, device="cpu")
    plan = PlanConfig(samples=16, elites=4, iterations=2, horizon=3, receding=2, cost="min")
    env = make("tworoom", resolution=16)
    frames = [env.render_state(np.array([60.0 + 10 * k, 150.0], np.float32)) for k in range(4)]
    goal = env.render_state(np.array([80.0, 120.0], np.float32))
    whole, split = wm.controller(goal, plan=plan, seed=3), wm.controller(goal, plan=plan, seed=3)
    for obs in frames:
        z = split.observe(obs)
        assert z.shape == (1, wm.config.model.embed_dim)
        assert np.array_equal(whole.act(obs), split.decide())
    assert whole.plans == split.plans == 2


def test_inference_does_not_import_training_code():
    """load -> plan -> eval reads a run through jepaworld.run only (the run contract)."""
    import subprocess
    import sys

    code = (
        "import sys, jepaworld.api, jepaworld.eval, jepaworld.plan, jepaworld.cli.eval; "
        "bad = sorted(m for m in sys.modules if m.startswith('jepaworld.train')); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_run_meta_round_trips_and_reads_the_old_layout(tiny_run):
    from jepaworld.run import RunMeta

    meta = jepaworld.load(tiny_run, device="cpu").meta
    assert isinstance(meta, RunMeta) and meta.env == "tworoom" and meta.held_out and meta.step == 60
    assert "torch" in meta.versions and RunMeta.from_dict(meta.to_dict()).to_dict() == meta.to_dict()
    old = meta.to_dict()
    old["val_episodes"] = old.pop("held_out")  # checkpoints written before RunMeta
    assert RunMeta.from_dict(old).held_out == meta.held_out
    with pytest.raises(ValueError, match="not a jepaworld run record"):
        RunMeta.from_dict({"env": "tworoom"})


def test_run_meta_records_the_action_box_and_planners_take_it_from_there(tiny_run):
    """meta.json carries the env's action box; a meta.json written before it did still loads (bounds from the
    env's spec); a planner built from a run uses the recorded box without importing the env."""
    from dataclasses import replace

    from jepaworld.envs import get_spec
    from jepaworld.errors import JepaworldError
    from jepaworld.eval.methods import protocol_controllers
    from jepaworld.run import RunMeta, resolve_checkpoint

    spec = get_spec("tworoom")
    saved = load_strict(resolve_checkpoint(tiny_run) / "meta.json")
    assert saved["action_low"] == spec.action_low.tolist() and saved["action_high"] == spec.action_high.tolist()
    old = {k: v for k, v in saved.items() if k not in ("action_low", "action_high")}
    meta = RunMeta.from_dict(old)
    assert meta.action_low is None and meta.action_high is None
    low, high = meta.action_bounds()  # from the env's spec
    np.testing.assert_array_equal(low, spec.action_low)
    np.testing.assert_array_equal(high, spec.action_high)

    wm = jepaworld.load(tiny_run, device="cpu")
    # an env whose package is not importable here: only the recorded box can serve
    wm.meta = replace(wm.meta, env="gymnasium:no_such_package.envs:Nowhere-v0", action_low=[-0.5, -0.25],
                      action_high=[0.5, 0.25])  # fmt: skip
    (planner,) = protocol_controllers(wm, PlanConfig(), EvalConfig()).values()
    np.testing.assert_array_equal(planner.action_low, np.float32([-0.5, -0.25]))
    np.testing.assert_array_equal(planner.action_high, np.float32([0.5, 0.25]))
    np.testing.assert_array_equal(wm.mpc().action_high, np.float32([0.5, 0.25]))  # jepaworld.load(run).controller()
    wm.meta = replace(wm.meta, action_low=None, action_high=None)
    with pytest.raises(JepaworldError, match="no_such_package"):
        protocol_controllers(wm, PlanConfig(), EvalConfig())


def test_subsets_are_the_envs_own():
    from jepaworld.envs import get_spec
    from jepaworld.errors import JepaworldError
    from jepaworld.eval.evaluate import subset_filter

    tworoom = get_spec("tworoom")
    assert subset_filter(tworoom, "all") is None
    far = subset_filter(tworoom, "far-corner")
    assert far(np.array([40.0, 180.0]), np.array([180.0, 150.0]))  # other room, both far below the door
    assert not far(np.array([40.0, 60.0]), np.array([180.0, 150.0]))  # start near the door's height
    assert not far(np.array([40.0, 180.0]), np.array([80.0, 150.0]))  # same room
    assert subset_filter(tworoom, "cross-wall")(np.array([40.0, 60.0]), np.array([180.0, 150.0]))
    with pytest.raises(JepaworldError, match="unknown --subset 'cross-wall' for pusht; expected one of: all"):
        subset_filter(get_spec("pusht"), "cross-wall")
