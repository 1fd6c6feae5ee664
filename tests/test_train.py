import csv
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

import jepaworld
from jepaworld.errors import JepaworldError
from jepaworld.run import checkpoint as ckpt_io
from jepaworld.train import TrainingDiverged, loop, train
from tests.conftest import SAME_BATCHES, tiny_config
from tests.reference_rollout import reference_rollout
from tests.strict_json import load_strict


def rows(run) -> list[dict[str, float]]:
    with open(f"{run}/metrics.csv") as f:
        return [{k: float(v) for k, v in r.items()} for r in csv.DictReader(f)]


def test_training_lowers_the_loss_without_collapse(tiny_data, tmp_path):
    result = train(tiny_config(tiny_data, str(tmp_path / "run"), steps=60))
    r = rows(tmp_path / "run")
    first = np.mean([x["loss"] for x in r[:5]])
    last = np.mean([x["loss"] for x in r[-5:]])
    assert last < 0.7 * first
    assert result.last["eff_rank"] > 4 and result.last["z_std_mean"] > 0.3
    assert (tmp_path / "run" / "plots" / "loss.png").stat().st_size > 0


def test_without_sigreg_embeddings_collapse(tiny_data, tmp_path):
    with_reg = train(tiny_config(tiny_data, str(tmp_path / "a"), steps=60))  # lambda 0.1
    no_reg = train(tiny_config(tiny_data, str(tmp_path / "b"), steps=60, sigreg_lambda=0.0))
    assert no_reg.last["z_std_mean"] < 0.25 * with_reg.last["z_std_mean"]


@pytest.mark.numerics
def test_resume_reproduces_the_uninterrupted_run(tiny_data, tmp_path):
    full = tiny_config(tiny_data, str(tmp_path / "full"), steps=12)
    train(full)

    def stop_at_6(step, metrics):
        if step == 6:
            raise KeyboardInterrupt

    part = tiny_config(tiny_data, str(tmp_path / "part"), steps=12)
    with pytest.raises(KeyboardInterrupt):
        train(part, progress=stop_at_6)
    assert ckpt_io.load_checkpoint(tmp_path / "part").step == 6
    train(part, resume=True)
    a, b = rows(tmp_path / "full"), rows(tmp_path / "part")
    assert [x["step"] for x in b] == list(range(1, 13))
    for x, y in zip(a, b, strict=True):
        assert x["loss"] == pytest.approx(y["loss"], rel=SAME_BATCHES), x["step"]


def test_existing_run_needs_resume(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=2)
    train(cfg)
    with pytest.raises(JepaworldError, match="--resume"):
        train(cfg)


def test_nan_loss_stops_and_keeps_last_checkpoint(tiny_data, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=10, ckpt_every=3)
    real = loop.jepa_loss
    calls = {"n": 0}

    def flaky(*args, **kw):
        out = real(*args, **kw)
        calls["n"] += 1
        if calls["n"] == 5:
            out["loss"] = out["loss"] * math.nan
        return out

    monkeypatch.setattr(loop, "jepa_loss", flaky)
    with pytest.raises(TrainingDiverged, match="at step 5.*the last checkpoint, step 3, is kept"):
        train(cfg)
    assert ckpt_io.load_checkpoint(tmp_path / "run").step == 3


def test_interrupted_checkpoint_write_keeps_the_previous_one(tiny_data, tmp_path, monkeypatch):
    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=4)
    train(cfg)
    model = jepaworld.load(tmp_path / "run")
    meta = ckpt_io.load_checkpoint(tmp_path / "run").meta

    def broken(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(ckpt_io, "save_file", broken)
    with pytest.raises(OSError):
        ckpt_io.save_checkpoint(tmp_path / "run", model, cfg, replace(meta, step=99))
    ck = ckpt_io.load_checkpoint(tmp_path / "run")
    assert ck.step == 4
    assert not [p for p in (tmp_path / "run" / "checkpoints").iterdir() if p.name.startswith(".")]


def test_load_round_trip(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=3)
    train(cfg)
    wm = jepaworld.load(tmp_path / "run", device="cpu")
    assert not wm.training and wm.meta.resolution == 16 and wm.meta.action_dim == 2
    ck = ckpt_io.load_checkpoint(tmp_path / "run")
    for k, v in wm.state_dict().items():
        assert torch.equal(v, ck.weights[k])
    pixels = torch.zeros(2, 1, 16, 16, 3, dtype=torch.uint8)
    assert wm.encode(pixels).shape == (2, 1, 32)
    saved = list((tmp_path / "run" / "checkpoints").glob("*/*.json"))
    assert {p.name for p in saved} == {"config.json", "meta.json"} and all(map(load_strict, saved))


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(ckpt_io.CheckpointError, match="does not exist"):
        jepaworld.load(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ckpt_io.CheckpointError, match="no complete checkpoint"):
        jepaworld.load(tmp_path / "empty")


def test_lr_schedule_warmup_and_cosine():
    from jepaworld.train.schedule import lr_at

    assert lr_at(0, 1.0, 100, 10) == pytest.approx(0.1)
    assert lr_at(9, 1.0, 100, 10) == pytest.approx(1.0)
    assert lr_at(55, 1.0, 100, 10) == pytest.approx(0.5)
    assert lr_at(100, 1.0, 100, 10) == pytest.approx(0.0, abs=1e-9)


def test_embedding_stats_detects_collapse():
    from jepaworld.train.diagnostics import embedding_stats

    iso = embedding_stats(torch.randn(512, 16))
    line = embedding_stats(torch.randn(512, 1) * torch.ones(1, 16))
    assert iso["eff_rank"] > 12 and line["eff_rank"] < 1.5


def test_rollout_loss_is_the_open_loop_rollout_planning_uses(tiny_data, tmp_path):
    """train.rollout_steps K: the loss's z_roll is WorldModel.rollout from the window's first frame,
    and a training with it runs, logs the term and refuses K > data.pred."""
    import torch

    from jepaworld.config import ConfigError
    from jepaworld.config import validate as validate_config
    from jepaworld.train.loop import build_model

    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=6, rollout_steps=3)
    cfg.data.pred = 3
    torch.manual_seed(0)
    model = build_model(cfg, action_dim=2).eval()
    pixels = torch.randint(0, 256, (4, 4, 16, 16, 3), dtype=torch.uint8)
    actions = torch.randn(4, 4, 10)
    with torch.no_grad():
        out = model(pixels, actions, 3)
        ref = reference_rollout(model, out["z"][:, :1], actions[:, :3])
    assert out["z_roll"].shape == (4, 3, 32)
    torch.testing.assert_close(out["z_roll"], ref, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    result = train(cfg)
    assert result.last["roll"] > 0 and math.isfinite(result.last["val_roll"])
    cfg.train.rollout_steps = 4
    with pytest.raises(ConfigError, match="train.rollout_steps"):
        validate_config(cfg)


def test_detached_rollout_term_trains_the_predictor_only(tiny_data, tmp_path):
    """train.rollout_detach: the multi-step term sends no gradient into the encoder, but does into the
    predictor; without it, both."""
    import torch

    from jepaworld.model import SIGReg
    from jepaworld.train.loop import build_model, jepa_loss

    cfg = tiny_config(tiny_data, str(tmp_path / "run"))
    cfg.data.pred = 3
    torch.manual_seed(0)
    model = build_model(cfg, action_dim=2)
    pixels = torch.randint(0, 256, (8, 4, 16, 16, 3), dtype=torch.uint8)
    actions = torch.randn(8, 4, 10)
    for detach, reaches_encoder in ((True, False), (False, True)):
        model.zero_grad()
        terms = jepa_loss(model, SIGReg(num_directions=16), pixels, actions, 0.1, 3, 1.0, detach)
        terms["roll"].backward()
        enc = sum(float(p.grad.abs().sum()) for p in model.encoder.parameters() if p.grad is not None)
        pred = sum(float(p.grad.abs().sum()) for p in model.predictor.parameters() if p.grad is not None)
        assert pred > 0
        assert (enc > 0) == reaches_encoder
