"""World-model science: rollout error vs baselines, probes, the surprise signal, violation of expectation."""

import math

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import jepaworld
from jepaworld.cli.main import app
from jepaworld.data import EpisodeFile
from jepaworld.errors import JepaworldError
from jepaworld.science.perturb import matched_trajectories, recolour, teleport_state
from jepaworld.science.probes import angle_error_deg, fit_mlp, fit_ridge, pearson_r, probe_targets
from jepaworld.science.rollout_error import (
    baseline_predictions,
    crossing_horizon,
    embedding_variance,
    normalised_errors,
    rollout_error,
)
from jepaworld.science.stats import auroc, average_ranks, betainc_reg, paired_ttest, t_pvalue_two_sided
from jepaworld.science.surprise import SurpriseMeter, event_stats, surprise_signal
from tests.strict_json import load_strict

runner = CliRunner()


# -- rollout error -----------------------------------------------------------------------------------
def test_baselines_and_normalised_error_match_a_hand_computation():
    z_prev, z_last = np.array([[0.0, 0.0]]), np.array([[1.0, 2.0]])
    preds = baseline_predictions(z_prev, z_last, horizon=3)
    np.testing.assert_allclose(preds["copy-last"][0], [[1, 2], [1, 2], [1, 2]])
    np.testing.assert_allclose(preds["linear extrapolation"][0], [[2, 4], [3, 6], [4, 8]])
    target = np.array([[[2.0, 2.0], [3.0, 3.0], [4.0, 4.0]]])
    # copy-last at k: ((1 - (k+1))^2 + (2 - (k+1))^2) / 2 dims / variance 2
    e = normalised_errors(preds["copy-last"], target, variance=2.0)
    np.testing.assert_allclose(e[0], [(1 + 0) / 4, (4 + 1) / 4, (9 + 4) / 4])
    np.testing.assert_allclose(normalised_errors(preds["linear extrapolation"], target, 2.0)[0], [1, 2.25, 4])
    assert embedding_variance(np.array([[0.0, 0.0], [2.0, 4.0]])) == pytest.approx((1 + 4) / 2)


def test_crossing_horizon():
    assert crossing_horizon(np.array([0.1, 0.5, 0.9]), [np.array([0.6, 0.6, 0.6]), np.array([1, 0.4, 2])]) == 2
    assert crossing_horizon(np.array([0.1, 0.2]), [np.array([0.6, 0.6]), np.array([1.0, 0.4])]) is None
    assert crossing_horizon(np.array([0.7, 0.2]), [np.array([0.6, 0.6])]) == 1


def test_rollout_error_on_the_tiny_run(tiny_run):
    wm = jepaworld.load(tiny_run, device="cpu")
    r = rollout_error(wm, horizon=4, windows=24)
    assert r.horizons == [1, 2, 3, 4] and r.protocol["windows"] == 24
    assert set(r.errors) == {"world model", "copy-last", "linear extrapolation"}
    for name, e in r.errors.items():
        assert len(e) == 4 and all(v >= 0 and math.isfinite(v) for v in e), name
    # copy-last at horizon 1 on one block of motion cannot be exactly zero, and linear extrapolation
    # from the same two frames must be at least as bad at horizon 1 as copy-last is at horizon 2 ... loosely:
    assert r.errors["copy-last"][0] > 0
    best = np.minimum(r.errors["copy-last"], r.errors["linear extrapolation"])
    expected = crossing_horizon(np.asarray(r.errors["world model"]), [best])
    assert r.crossing == expected
    with pytest.raises(JepaworldError, match="--horizon"):
        rollout_error(wm, horizon=16)


# -- probes ------------------------------------------------------------------------------------------
def test_probes_recover_a_linear_code_and_find_nothing_in_noise():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(600, 16))
    y = x @ rng.normal(size=(16, 3))
    tr, te = slice(0, 400), slice(400, None)
    ridge = fit_ridge(x[tr], y[tr], groups=np.arange(400) // 20)
    assert np.all(pearson_r(ridge.predict(x[te]), y[te]) > 0.999)
    mlp = fit_mlp(x[tr], y[tr], hidden=64, steps=300, seed=0)
    assert np.all(pearson_r(mlp.predict(x[te]), y[te]) > 0.95)
    noise = rng.normal(size=(600, 2))
    for probe in (fit_ridge(x[tr], noise[tr]), fit_mlp(x[tr], noise[tr], hidden=64, steps=100)):
        assert np.all(np.abs(pearson_r(probe.predict(x[te]), noise[te])) < 0.2)


def test_probe_targets_and_angles():
    state = np.array([[10, 20, 30, 40, 0.5, 0, 0], [1, 2, 3, 4, 6.0, 0, 0]], np.float32)
    t = probe_targets("pusht", state)
    assert list(t.quantities) == ["agent position", "block position", "block angle"] and t.angles == ("block angle",)
    np.testing.assert_allclose(t.values[:, 4:], np.column_stack([np.sin(state[:, 4]), np.cos(state[:, 4])]), rtol=1e-6)
    assert angle_error_deg(t.values[:, 4:], t.values[:, 4:]) == pytest.approx(0.0, abs=1e-9)
    # 359 deg vs 1 deg is 2 deg apart, not 358
    a, b = np.radians([[359.0]]), np.radians([[1.0]])
    assert angle_error_deg(np.column_stack([np.sin(a), np.cos(a)]), np.column_stack([np.sin(b), np.cos(b)])) == (
        pytest.approx(2.0)
    )
    assert list(probe_targets("tworoom", state[:, :2]).quantities) == ["agent position"]
    assert list(probe_targets("gymnasium:X", state[:, :3]).quantities) == ["state[0]", "state[1]", "state[2]"]
    r = probe_targets("reacher", np.array([[0.3, -1.2, 0.0, 0.0]]))
    assert r.angles == ("shoulder angle", "wrist angle")
    np.testing.assert_allclose(r.values, [[np.sin(0.3), np.cos(0.3), np.sin(-1.2), np.cos(-1.2)]])
    cube_state = np.arange(55, dtype=np.float64)[None]
    c = probe_targets("cube", cube_state)
    assert list(c.quantities) == ["effector position", "gripper opening", "cube position"]
    np.testing.assert_array_equal(c.values, [[0, 1, 2, 4, 6, 7, 8]])  # effector xyz, opening, cube xyz


# -- statistics --------------------------------------------------------------------------------------
def test_t_distribution_against_known_values():
    # two-sided p-values from tables / scipy.stats.t
    assert t_pvalue_two_sided(2.0, 10) == pytest.approx(0.073388, abs=1e-6)
    assert t_pvalue_two_sided(3.0, 5) == pytest.approx(0.030099, abs=1e-6)
    assert t_pvalue_two_sided(1.0, 1) == pytest.approx(0.5, abs=1e-12)  # Cauchy: P(|T| > 1) = 1/2
    assert t_pvalue_two_sided(0.0, 7) == pytest.approx(1.0)
    assert t_pvalue_two_sided(2.0, 1e6) == pytest.approx(0.0455003, abs=1e-5)  # ~ the normal
    assert betainc_reg(1.0, 1.0, 0.3) == pytest.approx(0.3)  # uniform
    assert betainc_reg(2.0, 3.0, 0.4) == pytest.approx(0.5248, abs=1e-4)


def test_t_distribution_against_scipy():
    stats = pytest.importorskip("scipy.stats")
    for t, df in [(0.3, 2), (2.5, 9), (-4.0, 30), (12.0, 49)]:
        assert t_pvalue_two_sided(t, df) == pytest.approx(2 * stats.t.sf(abs(t), df), rel=1e-9, abs=1e-300)
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=25), rng.normal(0.4, 1, size=25)
    ours, theirs = paired_ttest(a, b), stats.ttest_rel(a, b)
    assert ours.t == pytest.approx(theirs.statistic) and ours.p_two_sided == pytest.approx(theirs.pvalue)


def test_paired_ttest_by_hand():
    r = paired_ttest([3.0, 5.0, 4.0, 6.0], [1.0, 2.0, 2.0, 3.0])  # differences 2, 3, 2, 3
    sd = np.std([2, 3, 2, 3], ddof=1)
    assert r.mean_diff == 2.5 and r.t == pytest.approx(2.5 / (sd / 2)) and r.df == 3
    assert r.cohens_d == pytest.approx(2.5 / sd)
    same = paired_ttest([1.0, 2.0], [0.0, 1.0])  # constant difference
    assert same.p_two_sided == 0.0 and same.t == math.inf
    assert math.isnan(paired_ttest([1.0], [0.0]).p_two_sided)


def test_auroc_ranks():
    assert auroc([5, 6, 7], [1, 2, 3]) == 1.0 and auroc([1, 2], [5, 6]) == 0.0
    assert auroc([1, 2, 3], [1, 2, 3]) == pytest.approx(0.5)
    assert auroc([1.0], [1.0, 0.0]) == pytest.approx(0.75)  # a tie counts half
    rng = np.random.default_rng(0)
    assert auroc(rng.normal(size=2000), rng.normal(size=2000)) == pytest.approx(0.5, abs=0.03)
    np.testing.assert_allclose(average_ranks(np.array([10, 20, 10, 30])), [1.5, 3, 1.5, 4])


def test_event_stats_reads_the_event_column():
    rng = np.random.default_rng(0)
    base = rng.uniform(0.9, 1.1, size=(20, 5))
    pert = base.copy()
    pert[:, 2] += 10  # event at frame 3 = column 2
    s = event_stats("teleport", pert, base, event_step=3)
    assert s.auroc == 1.0 and s.p_two_sided < 1e-10 and s.event_mean > 10 and s.n == 20


# -- surprise ----------------------------------------------------------------------------------------
def _episode(f: EpisodeFile, e: int, n_frames: int, fs: int):
    off = int(f.ep_offset[e])
    frames = f.pixels[off : off + (n_frames - 1) * fs + 1 : fs]
    actions = f.action[off : off + (n_frames - 1) * fs]
    return frames, actions


def _model_with_history(tiny_run, history: int):
    """An untrained model with a longer history (the tiny run has 1) for the step-by-step check."""
    from jepaworld.api import LoadedWorldModel

    wm = jepaworld.load(tiny_run, device="cpu")
    torch.manual_seed(0)
    m = LoadedWorldModel(wm.config.model, action_dim=2, frameskip=wm.meta.frameskip, history=history).eval()
    m.config, m.meta = wm.config, wm.meta
    return m


@pytest.mark.numerics
@pytest.mark.parametrize("history", [1, 3])
def test_surprise_signal_equals_the_step_by_step_meter(tiny_run, tiny_data, history):
    wm = jepaworld.load(tiny_run, device="cpu") if history == 1 else _model_with_history(tiny_run, history)
    fs, f = wm.meta.frameskip, EpisodeFile(tiny_data)
    eps = [_episode(f, e, 6, fs) for e in (0, 1)]
    frames, actions = np.stack([e[0] for e in eps]), np.stack([e[1] for e in eps])
    s = surprise_signal(wm, frames, actions)
    assert s.shape == (2, 5) and np.all(s >= 0)
    # surprise is ||z_hat - z||^2, a cancelling difference: its float32 rounding scales with ||z||^2, not with
    # the surprise itself (which may be near 0)
    with torch.no_grad():
        z = wm.encode(torch.as_tensor(frames)).double()
    tol = dict(rtol=1e-5, atol=1e-5 * float(z.square().sum(-1).max()))
    np.testing.assert_allclose(wm.surprise(frames[1], actions[1]), s[1], **tol)  # one trajectory -> (T-1,)
    meter = SurpriseMeter(wm)
    assert np.all(np.isnan(meter.update(frames[:, 0])))
    steps = [meter.update(frames[:, t], actions[:, (t - 1) * fs : t * fs]) for t in range(1, 6)]
    np.testing.assert_allclose(np.stack(steps, 1), s, **tol)
    with pytest.raises(JepaworldError, match="raw env actions"):
        surprise_signal(wm, frames, actions[:, :-1])


def test_matched_trajectories_replay_the_data_and_perturb_at_the_event(tiny_run, tiny_data):
    meta = jepaworld.load(tiny_run, device="cpu").meta
    f = EpisodeFile(tiny_data)
    traj = matched_trajectories("tworoom", 16, f, list(meta.held_out), n_frames=6, event_step=3,
                                frameskip=meta.frameskip, seed=0)  # fmt: skip
    K, fs = 3, meta.frameskip
    un, tp, rc = (traj.states[k] for k in ("unperturbed", "teleport", "recolour"))
    assert un.shape == (len(meta.held_out), 6, 2) and traj.actions.shape == (len(meta.held_out), 5 * fs, 2)
    np.testing.assert_array_equal(tp[:, :K], un[:, :K])  # the same until the event step ...
    assert np.all(np.linalg.norm(tp[:, K] - un[:, K], axis=-1) > 1.0)  # ... and moved exactly there
    np.testing.assert_array_equal(rc, un)
    frames = traj.frames
    np.testing.assert_array_equal(frames["recolour"][:, :K], frames["unperturbed"][:, :K])
    np.testing.assert_array_equal(frames["recolour"][:, K:], frames["unperturbed"][:, K:, ..., ::-1])
    for i, (e, t0) in enumerate(traj.starts):  # the unperturbed replay reproduces the recorded frames
        row = int(f.ep_offset[e]) + t0
        np.testing.assert_array_equal(frames["unperturbed"][i], f.pixels[row : row + 5 * fs + 1 : fs])
    with pytest.raises(JepaworldError, match="--frames"):
        matched_trajectories("tworoom", 16, f, list(meta.held_out), 20, 3, meta.frameskip)
    assert recolour(np.array([[1, 2, 3]], np.uint8)).tolist() == [[3, 2, 1]]


def test_pusht_teleport_moves_only_the_block_clear_of_the_agent():
    pytest.importorskip("pymunk")
    from jepaworld.envs import make, pusht

    rng = np.random.default_rng(0)
    pool = np.stack([pusht.sample_state(rng) for _ in range(40)])
    env = make("pusht", resolution=16)
    for state in pool[:5]:
        new = teleport_state("pusht", state, pool, rng)
        np.testing.assert_array_equal(new[[0, 1, 5, 6]], state[[0, 1, 5, 6]])
        assert np.linalg.norm(new[2:4] - state[2:4]) > 0
        assert pusht.t_distance(new[None, :2].astype(np.float64), new[2:5].astype(np.float64))[0] > pusht.AGENT_RADIUS
        env.set_state(new)  # a valid state
    env.close()


# -- the commands ------------------------------------------------------------------------------------
def test_science_commands_write_results(tiny_run, tmp_path):
    cmds = {
        "rollout-error": (["--horizon", "3", "--windows", "16"], "copy-last"),
        "probe": (["--train-frames", "200", "--test-frames", "60", "--mlp-steps", "30"], "agent position"),
        "surprise": (["--frames", "6", "--event-step", "3"], "teleport"),
    }
    for cmd, (extra, shown) in cmds.items():
        out = tmp_path / cmd
        r = runner.invoke(app, [cmd, tiny_run, "--out", str(out), "--device", "cpu", "--threads", "1", *extra])
        assert r.exit_code == 0, r.output
        assert shown in " ".join(r.output.split()), r.output
        saved = load_strict(out / "results.json")
        assert saved["protocol"]["env"] == "tworoom"
        assert len(list(out.glob("*.png"))) == 1
    saved = load_strict(tmp_path / "surprise" / "results.json")
    assert [s["kind"] for s in saved["stats"]] == ["teleport", "recolour"]
    assert np.asarray(saved["surprise"]["teleport"]).shape[1] == 5
    r = runner.invoke(app, ["surprise", tiny_run, "--out", str(tmp_path / "x"), "--frames", "6", "--event-step", "6"])
    assert r.exit_code == 2 and "--event-step" in r.output
