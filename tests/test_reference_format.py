"""Files written by stable-worldmodel's own HDF5 writer: no `state` column, no `env` attribute.

They open in `data info` and train; what needs states (evaluation, probes) says so.
"""

from __future__ import annotations

import logging

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from jepaworld.cli.main import app
from jepaworld.config import save_config
from jepaworld.data import DataError, EpisodeFile, WindowSampler, check_compatible
from tests.conftest import tiny_config

runner = CliRunner()


def flat(text: str) -> str:
    return " ".join(text.split())


def write_reference_file(path, lens=(20, 17, 23, 19, 21), res=64, env: str | None = None) -> None:
    """Episodes laid out as stable-worldmodel writes them: pixels, action, proprio, ep_len, ep_offset.

    A bright square moves by each action, so frames and actions are related (as in real data).
    """
    rng = np.random.default_rng(0)
    n = sum(lens)
    pixels = np.zeros((n, res, res, 3), np.uint8)
    action = rng.uniform(-1, 1, (n, 2)).astype(np.float32)
    proprio = np.zeros((n, 2), np.float32)
    offsets = np.concatenate([[0], np.cumsum(lens)[:-1]]).astype(np.int64)
    for off, length in zip(offsets, lens, strict=True):
        pos = rng.uniform(8, res - 8, 2)
        for i in range(length):
            x, y = pos.astype(int)
            pixels[off + i, y - 4 : y + 4, x - 4 : x + 4] = (220, 30, 30)
            proprio[off + i] = pos
            pos = np.clip(pos + 3 * action[off + i], 8, res - 8)
        action[off + length - 1] = 0
    with h5py.File(path, "w") as f:
        f.create_dataset("pixels", data=pixels)
        f.create_dataset("action", data=action)
        f.create_dataset("proprio", data=proprio)
        f.create_dataset("ep_len", data=np.asarray(lens, np.int64))
        f.create_dataset("ep_offset", data=offsets)
        if env is not None:
            f.attrs["env"] = env


@pytest.fixture
def reference_file(tmp_path) -> str:
    path = tmp_path / "swm.h5"
    write_reference_file(path)
    return str(path)


def test_opens_and_validates_without_state(reference_file):
    with EpisodeFile(reference_file) as f:
        f.validate()
        assert not f.has_state and f.n_episodes == 5 and f.resolution == 64
        arrays = f.arrays(pixels=False)
        assert set(arrays) == {"action", "ep_len", "ep_offset"}
        with pytest.raises(DataError, match="no `state` column") as e:
            f.require_state("evaluation")
        assert "evaluation needs low-dimensional states" in str(e.value)
        assert "jepaworld collect" in str(e.value) and reference_file in str(e.value)
        with pytest.raises(DataError, match="`state`"):
            _ = f.state
        # training windows need no states; windows with states say what is missing
        sampler = WindowSampler(f, [0, 1], history=1, pred=1, frameskip=2)
        pixels, actions = sampler.sample(4, 0)
        assert pixels.shape == (4, 2, 64, 64, 3) and actions.shape == (4, 2, 4)
        with pytest.raises(DataError, match="no `state` column"):
            sampler.sample(4, 0, with_state=True)


def test_env_attribute_missing_or_different(reference_file, tmp_path, caplog):
    with EpisodeFile(reference_file) as f, caplog.at_level(logging.WARNING):
        check_compatible(f, env="tworoom", resolution=64)  # accepted, with a warning
    assert "could not be checked" in caplog.text and "tworoom" in caplog.text
    other = tmp_path / "other.h5"
    write_reference_file(other, env="pusht")
    with EpisodeFile(other) as f, pytest.raises(DataError, match="'pusht'"):
        check_compatible(f, env="tworoom")


def test_data_info_says_what_is_missing(reference_file):
    r = runner.invoke(app, ["data", "info", reference_file])
    assert r.exit_code == 0, r.output
    out = flat(r.output)
    assert "valid" in out and "(100, 64, 64, 3)" in out and "proprio" in out
    assert "no `state` column" in out and "no evaluation or probes" in out
    assert "no `env` attribute" in out


def test_trains_on_a_reference_file(reference_file, tmp_path):
    cfg = tiny_config(reference_file, str(tmp_path / "run"), steps=3)
    cfg.data.resolution, cfg.model.image_size, cfg.train.val_every = 64, 64, 3
    save_config(cfg, tmp_path / "tiny.yaml")
    r = runner.invoke(app, ["train", "-c", str(tmp_path / "tiny.yaml"), "--data", reference_file])
    assert r.exit_code == 0, r.output
    assert "step 3" in flat(r.output)
    assert any((tmp_path / "run").rglob("*.safetensors"))
    torch.set_num_threads(1)  # the CLI may have changed it; keep later tests on one thread
