"""The train / eval commands end to end on tiny shapes, and their clear errors."""

import re

from typer.testing import CliRunner

from jepaworld.cli.main import app
from jepaworld.config import save_config
from tests.conftest import tiny_config

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def test_help_lists_every_command():
    r = runner.invoke(app, ["--help"])
    assert r.exit_code == 0
    for cmd in ("collect", "data", "train", "eval", "demo"):
        assert cmd in r.output


def test_train_then_eval(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=4)
    save_config(cfg, tmp_path / "tiny.yaml")
    r = runner.invoke(app, ["train", "-c", str(tmp_path / "tiny.yaml"), "--set", "train.steps=5"])
    assert r.exit_code == 0, r.output
    assert "step 5" in flat(r.output)
    r = runner.invoke(
        app,
        ["eval", "--ckpt", str(tmp_path / "run"), "--episodes", "3", "--goal-offset", "10", "--videos", "1",
         "--set", "plan.samples=8", "--set", "plan.iterations=2", "--set", "plan.elites=2",
         "--out", str(tmp_path / "ev")],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    out = flat(r.output)
    assert "random actions" in out and "straight-to-goal heuristic" in out and "budget 20" in out
    assert (tmp_path / "ev" / "results.json").exists()


def test_clear_errors(tiny_data, tmp_path):
    r = runner.invoke(app, ["train", "--data", str(tmp_path / "missing.h5"), "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "collect it first" in flat(r.output)
    r = runner.invoke(app, ["train", "--data", tiny_data, "--set", "train.nope=1"])
    assert r.exit_code == 2 and "unknown key train.nope" in flat(r.output)
    r = runner.invoke(app, ["train", "--data", tiny_data, "--set", "train.lr=fast"])
    assert r.exit_code == 2 and "expected float" in flat(r.output)
    r = runner.invoke(app, ["train", "-c", "nosuchpreset"])
    assert r.exit_code == 2 and "available: cpu, " in flat(r.output) and ", paper" in flat(r.output)
    # a 16-px file for the cpu preset's 64-px model: names both resolutions
    r = runner.invoke(app, ["train", "-c", "cpu", "--data", tiny_data, "--out", str(tmp_path / "r2")])
    assert r.exit_code == 2 and "16" in r.output and "64" in r.output
    r = runner.invoke(app, ["eval", "--ckpt", str(tmp_path / "nothing")])
    assert r.exit_code == 2 and "does not exist" in flat(r.output)


TINY = [
    "data.resolution=16", "data.workers=1", "model.image_size=16", "model.cnn_channels=[8,16]",
    "model.embed_dim=32", "model.proj_hidden=64", "model.enc_width=32", "model.pred_depth=1",
    "model.pred_heads=2", "model.pred_head_dim=16", "model.pred_mlp=64", "train.batch_size=16",
    "train.warmup_steps=1", "train.sigreg_directions=32", "train.val_batches=1", "plan.samples=16",
    "plan.elites=4", "plan.iterations=2", "data.val_fraction=0.3",
]  # fmt: skip


def test_demo_runs_every_stage_then_reuses_them(tmp_path, monkeypatch):
    from jepaworld.agent import FitSettings

    tiny_distill = dict(episodes=4, max_k=4, hindsight_pairs=200, planner_labels=12, label_batch=6, dagger_rounds=1,
                        dagger_episodes=3, goal_offset=10, budget=15, guard_rollouts=6,
                        fit=FitSettings(steps=20, batch_size=32))  # fmt: skip
    monkeypatch.setattr("jepaworld.cli.demo.DEMO_DISTILL", tiny_distill)  # stage 4 at the tiny run's scale
    args = ["demo", "--out", str(tmp_path / "demo"), "--episodes", "6", "--steps", "3", "--eval-episodes", "2"]
    for s in TINY:
        args += ["--set", s]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "demo" / "run" / "report.html").exists()
    html = (tmp_path / "demo" / "run" / "report.html").read_text()
    assert "random actions" in html and "training curves (plots/loss.png)" in html and "Rollouts of the planner" in html
    assert "data:image/png;base64," in html and "data:image/gif;base64," in html
    assert not re.search(r"""(?:src|href)=["'](?!data:|#)""", html)  # one self-contained file
    assert "4/4 two loops" in flat(r.output) and "guarded: policy" in r.output
    agent_eval = tmp_path / "demo" / "run" / "eval" / "published-protocol-agent"
    assert (agent_eval / "results.json").exists() and (agent_eval / "agent.png").exists()
    assert "plans / episode" in html and "guarded: policy" in html and "jepaworld.Agent on one episode" in html
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert flat(r.output).count("reusing") == 4
