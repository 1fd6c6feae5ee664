"""WorldModelEnsemble: planned with like one model, its cost the members' mean (+ k std), members checked."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import jepaworld
from jepaworld.api import ensemble_of
from jepaworld.cli.main import app
from jepaworld.config import PlanConfig, validate
from jepaworld.data.normalize import Normalizer
from jepaworld.envs import make
from jepaworld.errors import ConfigError, JepaworldError
from jepaworld.model import WorldModel
from jepaworld.model.ensemble import WorldModelEnsemble
from tests.conftest import tiny_config
from tests.strict_json import load_strict

PLAN = PlanConfig(samples=16, elites=4, iterations=2, horizon=3, receding=1, cost="min")


@pytest.fixture(scope="module")
def tiny_run_b(tiny_data, tmp_path_factory) -> str:
    """A second training of ``tiny_run``'s config and data, from another seed."""
    from jepaworld.train import train

    out = str(tmp_path_factory.mktemp("run") / "tiny-b")
    train(tiny_config(tiny_data, out, steps=60, seed=1))
    return out


def untrained(history: int = 2, seed: int = 0, **model) -> WorldModel:
    cfg = tiny_config("unused.h5", "unused").model
    for k, v in model.items():
        setattr(cfg, k, v)
    torch.manual_seed(seed)
    return WorldModel(cfg, action_dim=2, frameskip=5, history=history).eval()


def frames(n: int, seed: int = 0) -> np.ndarray:
    """n Two-Room frames (16 px) of random states: uint8 (n, 16, 16, 3)."""
    env = make("tworoom", resolution=16)
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    return np.stack([env.render_state(rng.uniform(20, 200, 2).astype(np.float32)) for _ in range(n)])


def test_one_member_plans_exactly_like_the_member(tiny_run):
    wm = jepaworld.load(tiny_run, device="cpu")
    ens = ensemble_of([wm])
    obs, goal = frames(2)
    assert np.array_equal(ens.plan(obs, goal, plan=PLAN, seed=3), wm.plan(obs, goal, plan=PLAN, seed=3))
    a, b = wm.controller(goal, plan=PLAN, seed=1), ens.controller(goal, plan=PLAN, seed=1)
    for frame in frames(4, seed=1):  # the closed loop: history, warm starts and re-plans alike
        assert np.array_equal(a.act(frame), b.act(frame))


@pytest.mark.parametrize("mode", ["terminal", "min"])
def test_cost_is_the_members_mean_plus_k_std(mode):
    members = [untrained(seed=0), untrained(seed=1), untrained(seed=2)]
    px = torch.as_tensor(frames(4))
    B, S, H, h = 2, 5, 3, 2
    g = torch.Generator().manual_seed(0)
    blocks = torch.randn(B, S, H, 10, generator=g)
    hist_blocks = torch.randn(B, h - 1, 10, generator=g)
    ens = WorldModelEnsemble(members)
    z = ens.encode(px[:, None])  # (4, 1, 3*D)
    z_hist, z_goal = z[:2].expand(B, h, -1), z[2:, 0]
    with torch.no_grad():
        own = torch.stack([
            m.cost(zh, zg, blocks, mode=mode, hist_blocks=hist_blocks)
            for m, zh, zg in zip(members, z_hist.split(32, -1), z_goal.split(32, -1), strict=True)
        ])  # fmt: skip  (3, B, S): each member on its own columns
        mean = ens.cost(z_hist, z_goal, blocks, mode=mode, hist_blocks=hist_blocks)
        ens.penalty = 0.5
        pessimist = ens.cost(z_hist, z_goal, blocks, mode=mode, hist_blocks=hist_blocks)
    tol = 1e-5 * own.abs().max().item()
    assert mean.shape == (B, S) and torch.allclose(mean, own.mean(0), rtol=0, atol=tol)
    assert torch.allclose(pessimist, own.mean(0) + 0.5 * own.std(0, correction=0), rtol=0, atol=tol)
    assert torch.all(pessimist >= mean)
    assert ens.rollout(z_hist, blocks[:, 0], hist_blocks).shape == (B, H, 3 * 32)


def test_members_costs_are_on_comparable_scales(tiny_run, tiny_run_b):
    """SIGReg keeps each training's latents near N(0, I): two trainings' costs of the same plans agree in scale
    (within a factor 3 after 60 tiny steps, 2.07 on this machine; the Push-T trainings: benchmarks/plan_exploit.py)."""
    ens = ensemble_of([jepaworld.load(tiny_run, device="cpu"), jepaworld.load(tiny_run_b, device="cpu")])
    px = torch.as_tensor(frames(64, seed=2))
    with torch.no_grad():
        z = ens.encode(px[:, None])[:, 0]  # (64, 2*D)
        blocks = torch.randn(32, 8, 3, ens.frameskip * ens.action_dim, generator=torch.Generator().manual_seed(0))
        c = ens.member_costs(z[:32], z[32:], blocks, mode="min")  # (2, 32, 8)
    for zm in ens.split(z):
        assert 0.2 < zm.std(0).mean().item() < 5.0  # near unit scale per dim, as SIGReg asks
    ratio = (c[0].mean() / c[1].mean()).item()
    assert 1 / 3 < ratio < 3.0, ratio


def test_mismatched_members_are_refused(tiny_run):
    with pytest.raises(JepaworldError, match="history=1 but member 0 has history=2"):
        WorldModelEnsemble([untrained(history=2), untrained(history=1)])
    with pytest.raises(JepaworldError, match="embed_dim=16"):
        WorldModelEnsemble([untrained(), untrained(embed_dim=16)])
    with pytest.raises(JepaworldError, match="penalty"):
        WorldModelEnsemble([untrained()], penalty=-1.0)
    a, b = jepaworld.load(tiny_run, device="cpu"), jepaworld.load(tiny_run, device="cpu")
    b.meta = dataclasses.replace(b.meta, normalizer=Normalizer(np.zeros(2), np.full(2, 3.0)))
    with pytest.raises(JepaworldError, match="z-scores actions with other statistics"):
        ensemble_of([a, b])
    b.meta = dataclasses.replace(a.meta, frameskip=a.meta.frameskip + 1)
    with pytest.raises(JepaworldError, match="frameskip"):
        ensemble_of([a, b])
    with pytest.raises(ConfigError, match="plan.ensemble_penalty"):
        validate(PlanConfig(ensemble_penalty=-0.5))


def test_cli_eval_with_an_ensemble_records_its_members(tiny_run, tiny_run_b, tmp_path):
    runner = CliRunner()
    args = ["eval", "--ckpt", tiny_run, "--episodes", "2", "--goal-offset", "10", "--videos", "0", "--no-baselines",
            "--set", "plan.samples=8", "--set", "plan.iterations=1", "--set", "plan.elites=2"]  # fmt: skip
    r = runner.invoke(app, [*args, "--ensemble", tiny_run_b, "--set", "plan.ensemble_penalty=0.5",
                            "--out", str(tmp_path / "ev")])  # fmt: skip
    assert r.exit_code == 0, r.output
    saved = load_strict(tmp_path / "ev" / "results.json")
    assert saved["ensemble"]["penalty"] == 0.5 and len(saved["ensemble"]["members"]) == 2
    assert tiny_run_b in saved["ensemble"]["members"][1] and saved["plan"]["ensemble_penalty"] == 0.5
    r = runner.invoke(app, [*args, "--set", "plan.ensemble_penalty=0.5", "--out", str(tmp_path / "ev2")])
    assert r.exit_code == 2 and "--ensemble" in r.output
