"""Evaluation of a user's own Gymnasium environment through the goal-reaching capability."""


import numpy as np
import pytest
from typer.testing import CliRunner

from jepaworld.cli.main import app
from jepaworld.config import DataConfig, EvalConfig
from jepaworld.data import EpisodeFile
from jepaworld.data.collect import collect
from jepaworld.envs import make
from jepaworld.envs.goal import GoalCapabilityError, missing_goal_methods, require_goal_env
from jepaworld.eval import draw_episodes
from jepaworld.train import train
from tests.conftest import tiny_config
from tests.strict_json import load_strict

DOT, PLAIN = "gymnasium:tests.goal_envs:Dot-v0", "gymnasium:tests.goal_envs:PlainDot-v0"
runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def tiny_run(env: str, tmp_path) -> str:
    data = tmp_path / "dot.h5"
    collect(DataConfig(env=env, policy="random", episodes=8, max_steps=30, resolution=16, workers=1, seed=2), data)
    cfg = tiny_config(str(data), str(tmp_path / "run"), steps=3)
    cfg.data.env = env
    train(cfg)
    return str(tmp_path / "run")


def test_capability_is_detected_through_the_pixel_wrapper():
    dot, plain = make(DOT, resolution=16), make(PLAIN, resolution=16)
    assert missing_goal_methods(dot) == []
    assert missing_goal_methods(plain) == ["get_state", "set_state", "render_state", "is_success"]
    dot.reset(seed=0)
    dot.set_state([10.0, 20.0])
    np.testing.assert_array_equal(dot.get_state(), [10.0, 20.0])
    assert dot.render().shape == (16, 16, 3)
    np.testing.assert_array_equal(dot.render(), dot.render_state([10.0, 20.0]))
    assert dot.is_success([10.0, 20.0], [11.0, 20.0]) and not dot.is_success([10.0, 20.0], [20.0, 20.0])
    with pytest.raises(GoalCapabilityError, match="lacks get_state, set_state, render_state, is_success"):
        require_goal_env(plain, "PlainDot-v0")
    with pytest.raises(GoalCapabilityError, match="set_state"):
        plain.set_state([1.0, 2.0])


def test_eval_runs_on_a_user_env_with_the_capability(tmp_path):
    run = tiny_run(DOT, tmp_path)
    r = runner.invoke(app, ["eval", "--ckpt", run, "--episodes", "3", "--goal-offset", "10", "--videos", "1",
                            "--set", "plan.samples=8", "--set", "plan.iterations=1", "--set", "plan.elites=2",
                            "--out", str(tmp_path / "ev")])  # fmt: skip
    assert r.exit_code == 0, r.output
    saved = load_strict(tmp_path / "ev" / "results.json")
    assert saved["protocol"]["env"] == DOT
    assert set(saved["summary"]) == {"cem (world model)", "random actions"}  # no heuristic for this env
    assert saved["summary"]["cem (world model)"]["episodes"] == 3


def test_eval_refuses_an_env_without_the_capability(tmp_path):
    run = tiny_run(PLAIN, tmp_path)
    r = runner.invoke(app, ["eval", "--ckpt", run, "--episodes", "2", "--goal-offset", "5"])
    assert r.exit_code == 2, r.output
    out = flat(r.output)
    assert "cannot be used for goal-reaching evaluation" in out and "set_state" in out and "Traceback" not in out


def test_starts_that_already_succeed_are_redrawn_and_counted(tiny_data):
    f = EpisodeFile(tiny_data)
    cfg = EvalConfig(episodes=10, goal_offset=10, seed=1)

    def near(start, goal):
        return bool(np.linalg.norm(start - goal) < 30.0)

    draw = draw_episodes(f, range(f.n_episodes), cfg, solved=near)
    assert draw.redrawn > 0 and len(draw.episodes) == 10
    assert not any(near(e.start, e.goal) for e in draw.episodes)
    assert draw_episodes(f, range(f.n_episodes), cfg).redrawn == 0


def test_the_command_imports_the_module_that_registers_the_env(tmp_path):
    """`jepaworld collect --env gymnasium:pkg.module:ID` from the console script, with worker processes."""
    import subprocess
    import sys
    from pathlib import Path

    exe = Path(sys.executable).parent / "jepaworld"
    if not exe.exists():
        pytest.skip("the jepaworld console script is not installed beside this Python")
    repo = Path(__file__).resolve().parents[1]
    out = tmp_path / "dot.h5"
    r = subprocess.run([str(exe), "collect", "--env", DOT, "--policy", "random", "--episodes", "2", "--max-steps", "5",
                        "--resolution", "16", "--workers", "2", "--out", str(out)],
                       cwd=repo, capture_output=True, text=True, timeout=120)  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr
    with EpisodeFile(out) as f:
        assert f.n_episodes == 2 and f.attrs["env"] == DOT
