import numpy as np
import pytest
import torch

from jepaworld.data import DataError, EpisodeFile, Normalizer, WindowSampler, split_episodes
from jepaworld.data.episodes import offsets, write_episodes


def step_indexed(lens=(30, 23, 41), res=4):
    """Episodes whose pixels, actions and states all encode (episode, step)."""
    ep_len = np.array(lens, np.int64)
    ep, step = np.repeat(np.arange(len(lens)), lens), np.concatenate([np.arange(n) for n in lens])
    pixels = np.zeros((len(ep), res, res, 3), np.uint8)
    pixels[..., 0], pixels[..., 1] = ep[:, None, None], step[:, None, None]
    action = np.stack([ep, step], 1).astype(np.float32)
    action[offsets(ep_len) + ep_len - 1] = 0  # zero-padded last rows
    state = np.stack([ep, step], 1).astype(np.float32) + 0.5
    return {
        "pixels": pixels,
        "action": action,
        "state": state,
        "ep_len": ep_len,
        "ep_offset": offsets(ep_len),
    }


@pytest.mark.parametrize("history,pred,fs", [(1, 1, 5), (3, 1, 5), (2, 2, 3)])
def test_windows_line_up(history, pred, fs):
    data = step_indexed()
    sampler = WindowSampler(data, [0, 1, 2], history, pred, fs, normalizer=None)
    T = history + pred
    assert len(sampler) == sum(n - (T - 1) * fs for n in data["ep_len"])
    pixels, actions, state = sampler.sample(256, torch.Generator().manual_seed(0), with_state=True)
    assert pixels.shape == (256, T, 4, 4, 3) and pixels.dtype == torch.uint8
    assert actions.shape == (256, T, fs * 2) and actions.dtype == torch.float32
    ep = pixels[:, :, 0, 0, 0].numpy()
    step = pixels[:, :, 0, 0, 1].numpy().astype(int)
    assert np.all(ep == ep[:, :1])  # a window never straddles episodes
    np.testing.assert_array_equal(np.diff(step, axis=1), fs)
    lens = data["ep_len"][ep[:, 0]]
    assert np.all(step[:, -1] <= lens - 1)
    blocks = actions.numpy().reshape(256, T, fs, 2)
    expected = step[..., None] + np.arange(fs)
    real = expected < (lens - 1)[:, None, None]
    np.testing.assert_array_equal(blocks[..., 1][real], expected[real])  # the fs actions after each frame
    np.testing.assert_array_equal(blocks[..., 0][real], np.broadcast_to(ep[..., None], real.shape)[real])
    assert np.all(blocks[~real] == 0)  # past the end: the zero-padded last action
    np.testing.assert_array_equal(state.numpy()[..., 1], step + 0.5)


def test_episode_subset_and_too_short():
    data = step_indexed()
    sampler = WindowSampler(data, [1], 1, 1, 5)
    pixels, _ = sampler.sample(64, np.random.default_rng(0))
    assert np.all(pixels[:, :, 0, 0, 0].numpy() == 1)
    with pytest.raises(DataError, match="long enough"):
        WindowSampler(data, [1], 3, 2, 10)


def test_from_disk_matches_memory(tmp_path):
    data = step_indexed(res=8)
    path = tmp_path / "e.h5"
    write_episodes(path, {k: data[k] for k in ("pixels", "action", "state")}, data["ep_len"], {"env": "x"})
    f = EpisodeFile(path)
    f.validate()
    norm = Normalizer.fit(data["action"], data["ep_len"], data["ep_offset"], [0, 2])
    mem = WindowSampler(f, [0, 2], 2, 1, 4, norm, in_memory=True)
    disk = WindowSampler(path, [0, 2], 2, 1, 4, norm, in_memory=False)
    a = mem.sample(32, torch.Generator().manual_seed(1))
    b = disk.sample(32, torch.Generator().manual_seed(1))
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y)


def test_normalizer():
    data = step_indexed()
    train, val = split_episodes(3, 0.34, seed=0)
    norm = Normalizer.fit(data["action"], data["ep_len"], data["ep_offset"], train)
    rows = np.concatenate(
        [
            np.arange(o, o + n - 1)
            for o, n in zip(data["ep_offset"][train], data["ep_len"][train], strict=True)
        ]
    )
    np.testing.assert_allclose(norm.action_mean, data["action"][rows].mean(0), rtol=1e-5)
    z = norm.normalize_action(data["action"][rows])
    np.testing.assert_allclose(z.mean(0), 0, atol=1e-4)
    np.testing.assert_allclose(z.std(0), 1, atol=1e-3)
    block = np.tile(data["action"][rows[:3]].reshape(1, -1), (2, 1))  # (2, 3*A) flattened blocks
    np.testing.assert_allclose(
        norm.denormalize_action(norm.normalize_action(block)), block, rtol=1e-5, atol=1e-4
    )
    t = torch.as_tensor(block)
    torch.testing.assert_close(norm.normalize_action(t), torch.as_tensor(norm.normalize_action(block)))
    again = Normalizer.from_dict(__import__("json").loads(__import__("json").dumps(norm.to_dict())))
    np.testing.assert_array_equal(again.action_std, norm.action_std)
    # older checkpoints also stored state statistics: ignored
    old = Normalizer.from_dict({**norm.to_dict(), "state_mean": [0.0, 0.0], "state_std": [1.0, 1.0]})
    np.testing.assert_array_equal(old.action_mean, norm.action_mean)
    with pytest.raises(ValueError, match="multiple"):
        norm.normalize_action(np.zeros(3))
    # constant dims do not divide by zero
    const = Normalizer.fit(np.ones((4, 2), np.float32), [4], [0], [0])
    assert np.all(np.isfinite(const.normalize_action(np.ones((1, 2), np.float32))))


def test_split_episodes():
    train, val = split_episodes(100, 0.05, seed=1)
    assert len(val) == 5 and len(train) == 95 and not set(train) & set(val)
    np.testing.assert_array_equal(val, split_episodes(100, 0.05, seed=1)[1])
    assert not np.array_equal(val, split_episodes(100, 0.05, seed=2)[1])
    assert len(split_episodes(3, 0.01)[1]) == 1 and len(split_episodes(1, 0.5)[1]) == 0
    assert len(split_episodes(10, 0.0)[1]) == 0
