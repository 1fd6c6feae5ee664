"""What a new user runs into: resuming, interruptions, bad values, damaged files, unwritable folders.

Every case must end in one clear line and a non-zero exit (2: the user's problem, 1: a bug).
Tiny shapes throughout (see conftest); the whole file runs in well under a minute on 2 cores.
"""

from __future__ import annotations

import csv
import logging
import os
import shlex
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from jepaworld.cli.errors import user_errors
from jepaworld.cli.main import app
from jepaworld.config import ConfigError, from_dict, load_config, save_config, to_dict, validate
from jepaworld.errors import JepaworldError
from jepaworld.run import load_checkpoint
from jepaworld.train import TrainingDiverged, loop, train
from tests.conftest import tiny_config

runner = CliRunner()
REPO = Path(__file__).resolve().parent.parent


def flat(text: str) -> str:
    return " ".join(text.split())


def one_line(r) -> str:
    """The single line an error prints (fails if there is a traceback or more)."""
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1, r.output
    assert "Traceback" not in r.output
    return lines[0]


def steps_logged(run: Path) -> list[int]:
    with open(run / "metrics.csv") as f:
        return [int(float(r["step"])) for r in csv.DictReader(f)]


@pytest.fixture(scope="module")
def tiny_yaml(tiny_data, tmp_path_factory) -> Path:
    """A tiny config as a YAML file (``-c``), its train.out pointing nowhere useful."""
    path = tmp_path_factory.mktemp("cfg") / "tiny.yaml"
    save_config(tiny_config(tiny_data, str(path.parent / "unused"), steps=4), path)
    return path


@pytest.fixture(scope="module")
def done_run(tiny_data, tiny_yaml, tmp_path_factory) -> Path:
    """A finished 4-step run trained through the CLI with an explicit --data and --set (lr 2e-3)."""
    run = tmp_path_factory.mktemp("done") / "run"
    r = runner.invoke(app, ["train", "-c", str(tiny_yaml), "--data", tiny_data, "--set", "train.lr=2e-3",
                            "--out", str(run), "--steps", "4"])  # fmt: skip
    assert r.exit_code == 0, r.output
    return run


def copy_run(run: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "run"
    shutil.copytree(run, dst)
    return dst


# -- 1. --resume continues exactly the saved run ----------------------------------------------
def test_resume_uses_the_runs_own_config_and_may_extend_steps(done_run, tmp_path):
    run = copy_run(done_run, tmp_path)
    saved = yaml.safe_load((run / "config.yaml").read_text())
    r = runner.invoke(app, ["train", "--out", str(run), "--resume", "--steps", "6"])
    assert r.exit_code == 0, r.output
    assert "step 6" in flat(r.output)
    assert load_checkpoint(run).step == 6 and steps_logged(run) == [1, 2, 3, 4, 5, 6]
    now = yaml.safe_load((run / "config.yaml").read_text())
    assert now["train"]["lr"] == 2e-3 and now["data"]["path"] == saved["data"]["path"]  # not the preset's
    assert now["train"]["steps"] == 6 and {**now["train"], "steps": 4} == {**saved["train"], "out": str(run)}
    # the same values again are fine
    r = runner.invoke(app, ["train", "--out", str(run), "--resume", "--steps", "7", "--set", "train.lr=0.002",
                            "--data", saved["data"]["path"]])  # fmt: skip
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run).step == 7


@pytest.mark.parametrize(
    "args, key, saved, given",
    [
        (["--set", "train.lr=1e-3"], "train.lr", "0.002", "0.001"),
        (["--data", "other.h5"], "data.path", "tworoom16.h5", "other.h5"),
        (["-c", "cpu"], "data.path", "tworoom16.h5", "runs/data/tworoom.h5"),
        (["--set", "model.embed_dim=64"], "model.embed_dim", "32", "64"),
    ],
)
def test_resume_refuses_a_changed_setting(done_run, args, key, saved, given):
    before = (done_run / "config.yaml").read_text()
    r = runner.invoke(app, ["train", "--out", str(done_run), "--resume", "--steps", "9", *args])
    assert r.exit_code == 2
    line = one_line(r)
    assert key in line and saved in line and given in line and "another --out" in line
    assert (done_run / "config.yaml").read_text() == before


def test_resume_of_a_finished_run_says_how_to_extend_it(done_run):
    r = runner.invoke(app, ["train", "--out", str(done_run), "--resume"])
    assert r.exit_code == 2
    line = one_line(r)
    assert "already trained" in line and "step 4" in line and "--steps N" in line and "N > 4" in line


def test_resume_without_a_run_is_a_clear_error(tmp_path):
    r = runner.invoke(app, ["train", "--out", str(tmp_path / "nothing"), "--resume"])
    assert r.exit_code == 2 and "no run to resume" in one_line(r)


def test_ctrl_c_hint_prints_a_command_that_works(tiny_data, tiny_yaml, tmp_path, monkeypatch):
    run = tmp_path / "my run"  # a space: the hint must quote it
    real, calls = loop.jepa_loss, {"n": 0}

    def stop_at_3(*args, **kw):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return real(*args, **kw)

    monkeypatch.setattr(loop, "jepa_loss", stop_at_3)
    r = runner.invoke(app, ["train", "-c", str(tiny_yaml), "--data", tiny_data, "--out", str(run), "--steps", "5"])
    assert r.exit_code == 130, r.output
    hint = flat(r.output).split("resume with: ")[1]
    assert hint == f"jepaworld train --out {shlex.quote(str(run))} --resume"
    assert load_checkpoint(run).step == 2
    monkeypatch.setattr(loop, "jepa_loss", real)
    r = runner.invoke(app, shlex.split(hint)[1:])
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run).step == 5 and steps_logged(run) == [1, 2, 3, 4, 5]
    # the preset it was started from may be named again; its train.steps (4) neither shortens nor extends
    r = runner.invoke(app, ["train", "-c", str(tiny_yaml), "--out", str(run), "--resume"])
    assert r.exit_code == 2 and "already trained: step 5 of train.steps=5" in one_line(r)
    r = runner.invoke(app, ["train", "-c", str(tiny_yaml), "--out", str(run), "--resume", "--steps", "6"])
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run).step == 6


# -- 2. / 6. every number is checked -----------------------------------------------------------
@pytest.mark.parametrize("steps", ["0", "-3"])
def test_steps_zero_or_negative_is_refused(tiny_data, tmp_path, steps):
    for extra in ([], ["--resume"]):
        r = runner.invoke(app, ["train", "--data", tiny_data, "--out", str(tmp_path / "r"), "--steps", steps, *extra])
        assert r.exit_code == 2 and f"--steps must be >= 1, got {steps}" in one_line(r)
    assert not (tmp_path / "r").exists()


@pytest.mark.parametrize(
    "override, message",
    [
        ("train.steps=-5", "train.steps must be >= 1, got -5"),
        ("train.ckpt_every=0", "train.ckpt_every must be >= 1, got 0"),
        ("train.lr=0", "train.lr must be > 0, got 0.0"),
        ("train.precision=fp16", "train.precision must be one of auto, bf16, fp32, got 'fp16'"),
        ("train.sigreg_knots=1", "train.sigreg_knots must be >= 2, got 1"),
        ("data.val_fraction=1", "data.val_fraction must be in [0.0, 1.0), got 1.0"),
        ("data.history=0", "data.history must be >= 1, got 0"),
        ("model.pred_dropout=1.5", "model.pred_dropout must be in [0.0, 1.0), got 1.5"),
        ("model.encoder=resnet", "model.encoder must be one of cnn, vit, got 'resnet'"),
        ("model.cnn_channels=[]", "model.cnn_channels must be a non-empty list"),
        ("plan.elites=500", "plan.elites must be in [1, plan.samples=100], got 500"),
        ("plan.noise=pink", "plan.noise must be one of iid, block, colored, got 'pink'"),
        ("plan.temperature=0", "plan.temperature must be > 0, got 0.0"),
        ("eval.goal_offset=0", "eval.goal_offset must be >= 1, got 0"),
        ("eval.subset=", "eval.subset must be non-empty"),
    ],
)
def test_bad_values_are_refused_at_the_boundary(override, message, tiny_data, tmp_path):
    with pytest.raises(ConfigError) as e:
        load_config("cpu", [override])
    assert message in str(e.value)
    r = runner.invoke(app, ["train", "--data", tiny_data, "--out", str(tmp_path / "r"), "--set", override])
    assert r.exit_code == 2 and message in one_line(r)
    assert not (tmp_path / "r").exists()


def test_saved_configs_and_library_calls_are_checked_too(tiny_data, tmp_path):
    d = to_dict(load_config("cpu"))
    d["train"]["batch_size"] = 0
    with pytest.raises(ConfigError, match="train.batch_size must be >= 1, got 0"):
        from_dict(d)
    cfg = tiny_config(tiny_data, str(tmp_path / "r"), steps=0)  # set after load_config: train() checks again
    with pytest.raises(ConfigError, match="train.steps must be >= 1, got 0"):
        train(cfg)
    validate(load_config("paper"))  # the presets pass
    assert issubclass(ConfigError, JepaworldError)


def test_collect_checks_its_numbers(tmp_path):
    r = runner.invoke(app, ["collect", "--episodes", "0", "--out", str(tmp_path / "d.h5")])
    assert r.exit_code == 2 and "data.episodes must be >= 1, got 0" in one_line(r)


# -- 3. leftovers of a killed checkpoint write are removed on the next start -------------------
def plant_leftovers(run: Path) -> list[Path]:
    ck = run / "checkpoints"
    ck.mkdir(parents=True, exist_ok=True)
    tmp_dir = ck / ".step-0000009.x1y2"
    tmp_dir.mkdir()
    (tmp_dir / "model.safetensors").write_bytes(b"half")
    tmp_file = ck / ".latest.abc.tmp"
    tmp_file.write_text("step-0000009")
    return [tmp_dir, tmp_file]


def test_stale_checkpoint_temps_are_removed_on_the_next_start(done_run, tiny_data, tmp_path, caplog):
    run = copy_run(done_run, tmp_path)
    left = plant_leftovers(run)
    cfg = load_config(str(run / "config.yaml"))
    cfg.train.out, cfg.train.steps = str(run), 5
    with caplog.at_level(logging.WARNING, logger="jepaworld.train.loop"):
        train(cfg, resume=True)
    assert not any(p.exists() for p in left)
    assert ".step-0000009.x1y2" in caplog.text and ".latest.abc.tmp" in caplog.text
    assert load_checkpoint(run).step == 5
    # a new run in a folder holding only leftovers (killed during its first checkpoint)
    fresh = tmp_path / "fresh"
    left = plant_leftovers(fresh)
    train(tiny_config(tiny_data, str(fresh), steps=1))
    assert not any(p.exists() for p in left)


# -- 4. SIGTERM checkpoints like Ctrl-C ----------------------------------------------------------
def test_sigterm_checkpoints_and_resumes(tiny_yaml, tiny_data, tmp_path):
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "jepaworld", "train", "-c", str(tiny_yaml), "--data", tiny_data,
           "--out", str(run), "--steps", "100000"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            if (run / "metrics.csv").exists() and len((run / "metrics.csv").read_text().splitlines()) >= 3:
                break
            time.sleep(0.05)
        assert proc.poll() is None, proc.communicate()[0]
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out
    assert f"jepaworld train --out {run} --resume" in flat(out) and "Traceback" not in out
    step = load_checkpoint(run).step
    assert step >= 2
    assert steps_logged(run)[-1] >= step
    r = runner.invoke(app, ["train", "--out", str(run), "--resume", "--steps", str(step + 2)])
    assert r.exit_code == 0, r.output
    assert load_checkpoint(run).step == step + 2 and steps_logged(run) == list(range(1, step + 3))


def test_signal_handlers_are_restored_after_training(tiny_data, tmp_path):
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    train(tiny_config(tiny_data, str(tmp_path / "r"), steps=1))
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


# -- 5. damaged files and unwritable folders: messages, not tracebacks -------------------------
def test_truncated_weights_are_reported_by_eval_and_resume(done_run, tmp_path):
    run = copy_run(done_run, tmp_path)
    weights = load_checkpoint(run).path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:100])
    r = runner.invoke(app, ["eval", "--ckpt", str(run), "--episodes", "1"])
    assert r.exit_code == 2 and "unreadable" in one_line(r) and str(run) in r.output
    r = runner.invoke(app, ["train", "--out", str(run), "--resume", "--steps", "8"])
    assert r.exit_code == 2 and "unreadable" in one_line(r) and "truncated" in r.output


@pytest.fixture
def read_only(tmp_path, monkeypatch):
    """A folder nobody may write to (root ignores permissions, so os.access is told too)."""
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    if os.geteuid() == 0:
        real = os.access

        def access(path, mode, **kw):
            if Path(path).resolve() == folder.resolve() and mode & os.W_OK:
                return False
            return real(path, mode, **kw)

        monkeypatch.setattr(os, "access", access)
    yield folder
    folder.chmod(0o755)


def test_read_only_output_folders(read_only, tiny_data, tiny_yaml):
    r = runner.invoke(app, ["train", "-c", str(tiny_yaml), "--data", tiny_data, "--out", str(read_only)])
    assert r.exit_code == 2
    line = one_line(r)
    assert str(read_only) in line and "not writable" in line
    r = runner.invoke(app, ["collect", "--episodes", "2", "--workers", "1", "--out", str(read_only / "d.h5")])
    assert r.exit_code == 2
    line = one_line(r)
    assert str(read_only) in line and "not writable" in line


def test_os_errors_anywhere_are_one_line_naming_the_path(capsys):
    for e in (PermissionError(13, "Permission denied", "/data/runs/x/config.yaml"),
              FileNotFoundError(2, "No such file or directory", "/data/in.h5"),
              IsADirectoryError(21, "Is a directory", "/data/dir")):  # fmt: skip
        with pytest.raises(typer.Exit) as exit_info, user_errors():
            raise e
        assert exit_info.value.exit_code == 2
        err = capsys.readouterr().err
        assert err.startswith("error:") and e.filename in err and len(err.strip().splitlines()) == 1


def test_collect_overwrite_never_deletes_a_folder(tmp_path):
    folder = tmp_path / "mydata"
    folder.mkdir()
    (folder / "precious.txt").write_text("keep me")
    for extra in ([], ["--overwrite"]):
        r = runner.invoke(app, ["collect", "--episodes", "2", "--workers", "1", "--out", str(folder), *extra])
        assert r.exit_code == 2
        assert "is a folder" in one_line(r)
    assert (folder / "precious.txt").read_text() == "keep me"
    # nor a user's folder that happens to be named like collect's work folder
    parts = tmp_path / "d.h5.parts"
    parts.mkdir()
    (parts / "notes.txt").write_text("mine")
    r = runner.invoke(app, ["collect", "--episodes", "2", "--workers", "1", "--out", str(tmp_path / "d.h5"),
                            "--overwrite"])  # fmt: skip
    assert r.exit_code == 2 and "not an unfinished collection" in one_line(r)
    assert (parts / "notes.txt").exists()


# -- 7. divergence names the checkpoint that exists ----------------------------------------------
def test_nan_without_any_checkpoint_says_so(tiny_data, tmp_path, monkeypatch, tiny_yaml):
    real = loop.jepa_loss
    calls = {"n": 0}

    def nan_at_2(*args, **kw):
        out = real(*args, **kw)
        calls["n"] += 1
        if calls["n"] == 2:
            out["loss"] = out["loss"] * float("nan")
        return out

    monkeypatch.setattr(loop, "jepa_loss", nan_at_2)
    r = runner.invoke(app, ["train", "-c", str(tiny_yaml), "--data", tiny_data, "--out", str(tmp_path / "r")])
    assert r.exit_code == 2 and "Traceback" not in r.output
    lines = r.output.strip().splitlines()  # the progress bar of step 1, then the error
    line = lines[-1]
    assert line.startswith("error:") and len(lines) == 2
    assert "at step 2" in line and "no checkpoint was written yet" in line and "kept" not in line
    assert "Lower train.lr" in line
    assert issubclass(TrainingDiverged, JepaworldError)


# -- 8. a user's problem is one line (exit 2); a bug is an internal error (exit 1) ------------
def test_user_error_versus_bug(tiny_data, tmp_path, monkeypatch):
    import jepaworld.cli.train as cli_train

    def user_problem(cfg, resume):
        raise JepaworldError("something the user can fix")

    monkeypatch.setattr(cli_train, "run_training", user_problem)
    args = ["train", "--data", tiny_data, "--out", str(tmp_path / "r")]
    for verbose in ([], ["-v"]):
        r = runner.invoke(app, [*verbose, *args])
        assert r.exit_code == 2 and one_line(r) == "error: something the user can fix"

    for bug in (RuntimeError("boom"), ValueError("not a user error")):

        def broken(cfg, resume, bug=bug):
            raise bug

        monkeypatch.setattr(cli_train, "run_training", broken)
        r = runner.invoke(app, args)
        assert r.exit_code == 1
        assert one_line(r) == (
            f"internal error: {type(bug).__name__}: {bug} (rerun with -v for the traceback; please report it)"
        )
        r = runner.invoke(app, ["-v", *args])
        assert r.exit_code == 1
        assert "Traceback (most recent call last)" in r.output and f"{type(bug).__name__}: {bug}" in r.output
        assert "in broken" in r.output
