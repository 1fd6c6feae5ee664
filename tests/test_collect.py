import os

import gymnasium as gym
import h5py
import numpy as np
import pytest

from jepaworld.config import DataConfig
from jepaworld.data import DataError, EpisodeFile, check_compatible
from jepaworld.data.collect import collect, config_path, parts_dir
from tests.strict_json import load_strict


def cfg(**kw) -> DataConfig:
    base = dict(episodes=6, max_steps=12, resolution=16, workers=1, seed=3)
    return DataConfig(**(base | kw))


def columns(path) -> dict[str, np.ndarray]:
    with EpisodeFile(path) as f:
        return f.arrays()


def test_round_trip_and_validate(tmp_path):
    out = tmp_path / "d.h5"
    seen = []
    result = collect(cfg(), out, progress=lambda e, n: seen.append((e, n)))
    assert result.episodes == 6 and result.frames == 6 * 13 and out.exists()
    assert seen[0] == (0, 0) and seen[-1] == (6, 78)
    assert not parts_dir(out).exists()
    assert load_strict(config_path(out))["episodes"] == 6
    with EpisodeFile(out) as f:
        f.validate()
        assert f.n_episodes == 6 and f.n_frames == 78
        assert f.pixels.shape == (78, 16, 16, 3) and f.pixels.dtype == np.uint8
        assert f.action.shape == (78, 2) and f.state.shape == (78, 2)
        np.testing.assert_array_equal(f.ep_offset, np.arange(6) * 13)
        last = f.ep_offset + f.ep_len - 1
        assert np.all(f.action[...][last] == 0)
        attrs = f.attrs
        assert attrs["env"] == "tworoom" and attrs["resolution"] == 16 and attrs["version"] == "0.1.0"
        # row i: obs_i rendered at state_i
        from jepaworld.envs import make

        env = make("tworoom", 16)
        np.testing.assert_array_equal(env.render_state(f.state[5]), f.pixels[5])
        check_compatible(f, env="tworoom", resolution=16)
        with pytest.raises(DataError, match="'tworoom'.*'other'"):
            check_compatible(f, env="other")
        with pytest.raises(DataError, match="16-px.*32"):
            check_compatible(f, resolution=32)


def test_reproducible_across_workers(tmp_path):
    a = columns(collect(cfg(workers=1), tmp_path / "a.h5").path)
    b = columns(collect(cfg(workers=2), tmp_path / "b.h5").path)
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    c = columns(collect(cfg(seed=4), tmp_path / "c.h5").path)
    assert not np.array_equal(a["state"], c["state"])


class Stop(Exception):
    pass


@pytest.mark.parametrize("workers", [1, 2])
def test_resume_after_interruption(tmp_path, workers):
    full = columns(collect(cfg(), tmp_path / "full.h5").path)
    out = tmp_path / "part.h5"

    def interrupt(episodes, frames):
        if episodes >= 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        collect(cfg(workers=workers), out, progress=interrupt)
    assert not out.exists() and parts_dir(out).exists()
    kept = sorted(p.name for p in parts_dir(out).glob("*.h5"))
    assert len(kept) >= 3
    (parts_dir(out) / ".tmp-0000009-123.h5").write_bytes(b"half-written")  # a killed writer's leftover
    seen = []
    collect(cfg(workers=workers), out, progress=lambda e, n: seen.append(e))
    assert seen[0] >= 3  # finished episodes were kept, not redone
    resumed = columns(out)
    for k in full:
        np.testing.assert_array_equal(full[k], resumed[k])
    assert not parts_dir(out).exists()


def test_resume_with_other_settings_is_refused(tmp_path):
    out = tmp_path / "d.h5"
    with pytest.raises(KeyboardInterrupt):
        collect(cfg(), out, progress=lambda e, n: (_ for _ in ()).throw(KeyboardInterrupt) if e >= 2 else None)
    with pytest.raises(DataError, match="other settings.*--overwrite"):
        collect(cfg(noise=0.1), out)
    collect(cfg(noise=0.1), out, overwrite=True)
    assert EpisodeFile(out).attrs["noise"] == pytest.approx(0.1)


def test_existing_output_needs_overwrite(tmp_path):
    out = tmp_path / "d.h5"
    collect(cfg(episodes=2), out)
    with pytest.raises(DataError, match="already exists.*--overwrite"):
        collect(cfg(episodes=2), out)
    collect(cfg(episodes=3), out, overwrite=True)
    assert EpisodeFile(out).n_episodes == 3


def test_bad_inputs(tmp_path):
    with pytest.raises(DataError, match="no such file"):
        EpisodeFile(tmp_path / "missing.h5")
    garbage = tmp_path / "garbage.h5"
    garbage.write_bytes(os.urandom(1000))
    with pytest.raises(DataError, match="not a readable HDF5"):
        EpisodeFile(garbage)
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["x"] = np.zeros(3)
    with pytest.raises(DataError, match="missing datasets"):
        EpisodeFile(other)
    with pytest.raises(ValueError, match="unknown environment 'nope'"):
        collect(cfg(env="nope"), tmp_path / "x.h5")
    with pytest.raises(DataError, match="unknown policy"):
        collect(cfg(policy="best"), tmp_path / "x.h5")
    with pytest.raises(DataError, match="cannot import"):
        collect(cfg(policy="no_such_module:fn"), tmp_path / "x.h5")


def test_validate_finds_broken_files(tmp_path):
    out = collect(cfg(episodes=3), tmp_path / "d.h5").path
    with h5py.File(out, "a") as f:
        f["ep_offset"][1] = 5
    with pytest.raises(DataError, match=r"ep_offset\[1\] = 5, expected 13"):
        EpisodeFile(out).validate()
    with h5py.File(out, "a") as f:
        f["ep_offset"][1] = 13
        f["action"][4] = np.nan
    with pytest.raises(DataError, match="NaN"):
        EpisodeFile(out).validate()
    with h5py.File(out, "a") as f:
        f["action"][4] = 0
        f["ep_len"][2] = 20
    with pytest.raises(DataError, match="sum to"):
        EpisodeFile(out).validate()


def user_policy(obs, state, rng):
    return np.array([1.0, rng.uniform(-1, 1)], np.float32)


def test_random_and_user_policies(tmp_path):
    r = columns(collect(cfg(policy="random"), tmp_path / "r.h5").path)
    assert np.abs(r["action"]).max() <= 1
    u = columns(collect(cfg(policy=f"{user_policy.__module__}:user_policy"), tmp_path / "u.h5").path)
    real = np.ones(len(u["action"]), bool)
    real[u["ep_offset"] + u["ep_len"] - 1] = False
    assert np.all(u["action"][real, 0] == 1.0)


class Blink(gym.Env):
    """A tiny Gymnasium env rendering 20x30 RGB frames; terminates after 7 steps."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}

    def __init__(self, render_mode=None):
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(-10, 10, (3,), np.float32)
        self.action_space = gym.spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return np.zeros(3, np.float32), {}

    def step(self, action):
        self.t += 1
        obs = np.array([self.t, action, 0], np.float32)
        return obs, 0.0, self.t >= 7, False, {}

    def render(self):
        img = np.zeros((20, 30, 3), np.uint8)
        img[:, : 4 * self.t] = 200
        return img


gym.register("TestBlink-v0", entry_point=Blink)


def test_gymnasium_plugin(tmp_path):
    from jepaworld.envs import get_spec, make

    spec = get_spec("gymnasium:TestBlink-v0")
    assert spec.action_dim == 2 and spec.heuristic is None
    env = make("gymnasium:TestBlink-v0", resolution=8)
    obs, info = env.reset(seed=0)
    assert obs.shape == (8, 8, 3) and obs.dtype == np.uint8 and info["state"].shape == (3,)
    out = collect(cfg(env="gymnasium:TestBlink-v0", resolution=8, episodes=3, max_steps=20), tmp_path / "g.h5")
    with EpisodeFile(out.path) as f:
        f.validate()
        np.testing.assert_array_equal(f.ep_len, [8, 8, 8])  # 7 steps, then terminated
        assert f.pixels.shape == (24, 8, 8, 3) and f.action.shape == (24, 2)
        np.testing.assert_array_equal(f.state[7], [7, f.state[7][1], 0])
    with pytest.raises(ValueError, match="unknown Gymnasium id"):
        get_spec("gymnasium:NoSuch-v9")


def test_data_of_other_dynamics_is_refused(tmp_path):
    """A Two-Room file collected before the reference collision rule cannot train or evaluate silently."""
    from jepaworld.envs import get_spec

    out = collect(cfg(episodes=2, max_steps=5, resolution=16), tmp_path / "t.h5").path
    dynamics = get_spec("tworoom").dynamics
    with EpisodeFile(out) as f:
        assert f.attrs["dynamics"] == dynamics
        check_compatible(f, env="tworoom", dynamics=dynamics)
    with h5py.File(out, "a") as h:
        del h.attrs["dynamics"]  # as written by earlier versions
    with EpisodeFile(out) as f, pytest.raises(DataError, match="collect it again"):
        check_compatible(f, env="tworoom", dynamics=dynamics)


def test_explore_overrides_whole_action_blocks(tmp_path):
    """data.explore: a share of the action blocks take one uniform action held for frameskip steps; the rest is
    the policy's; explore 0 is the plain collection, and the setting is recorded and checked on resume."""
    from jepaworld.data.collect import explore_blocks

    rng = np.random.default_rng(0)
    over = explore_blocks(rng, 203, 0.5, 5, np.array([-1.0, -2.0]), np.array([1.0, 2.0]))
    assert over.shape == (203, 2)
    blocks = over[:200].reshape(40, 5, 2)
    chosen = ~np.isnan(blocks[:, 0, 0])
    assert 8 < chosen.sum() < 32  # ~ half of 40 blocks
    assert np.all(blocks[chosen] == blocks[chosen][:, :1])  # one action held over the block
    assert np.all(np.isnan(blocks[~chosen]))
    drawn = blocks[chosen][:, 0]
    assert np.all(np.abs(drawn) <= [1.0, 2.0]) and np.abs(drawn[:, 1]).max() > 1.0  # each dimension's own bounds
    assert np.isnan(explore_blocks(rng, 20, 0.0, 5, -np.ones(2), np.ones(2))).all()
    assert not np.isnan(explore_blocks(rng, 20, 1.0, 5, -np.ones(2), np.ones(2))).any()

    plain = columns(collect(cfg(), tmp_path / "plain.h5").path)
    same = columns(collect(cfg(explore=0.0, frameskip=3), tmp_path / "same.h5").path)
    for k in plain:
        np.testing.assert_array_equal(plain[k], same[k])  # explore 0: the collection is unchanged
    out = collect(cfg(explore=1.0, frameskip=3), tmp_path / "x.h5").path
    wild = columns(out)
    assert not np.array_equal(plain["action"], wild["action"])
    with EpisodeFile(out) as f:
        assert f.attrs["explore"] == 1.0
        steps = f.action[...][: int(f.ep_len[0]) - 1]  # episode 0, last row is the zero pad
    held = steps[:12].reshape(4, 3, 2)
    assert np.all(held == held[:, :1])
    with pytest.raises(DataError, match="explore"):
        collect(cfg(explore=1.5), tmp_path / "bad.h5")
