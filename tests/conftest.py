"""Shared tiny fixtures: a small Two-Room episode file and a tiny world-model config."""

from __future__ import annotations

import os

import pytest
import torch

from jepaworld.config import Config, DataConfig, load_config

# tiny shapes: threads cost more than they give, and CI has 2 cores; OMP_NUM_THREADS=N runs the suite on N
# threads (.ci/run does, to show that no assertion depends on how a reduction is split between threads)
torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS") or 1))


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> str:
    """12 Two-Room episodes of 41 frames at 16 px."""
    from jepaworld.data.collect import collect

    out = tmp_path_factory.mktemp("data") / "tworoom16.h5"
    collect(DataConfig(episodes=12, max_steps=40, resolution=16, workers=1, seed=1), out)
    return str(out)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "numerics: compares float results of two code paths, kernels or batch "
                            "shapes; .ci/run runs these again on 2 threads and on MKL's compatible kernels")


# Two trainings fed the same batches differ only by float32 rounding (GEMM kernels, thread counts, buffer
# layouts): ~1e-6 of the loss after 8 steps, measured across MKL code paths (MKL_CBWR=COMPATIBLE). One batch
# in another order or one other window moves the loss by more than 1e-2. A relative tolerance between the
# two tells a change of data or state from rounding, on any CPU.
SAME_BATCHES = 1e-4


def tiny_config(data_path: str, out: str, **train) -> Config:
    """A model small enough to train a few dozen steps in seconds."""
    cfg = load_config(
        None,
        [
            f"data.path={data_path}", "data.resolution=16", "data.history=1", "data.pred=1",
            "data.val_fraction=0.2", "model.image_size=16", "model.cnn_channels=[8,16]",
            "model.embed_dim=32", "model.proj_hidden=64", "model.enc_width=32", "model.pred_depth=1",
            "model.pred_heads=2", "model.pred_head_dim=16", "model.pred_mlp=64", "model.pred_dropout=0.0",
            f"train.out={out}", "train.batch_size=32", "train.steps=40", "train.warmup_steps=5",
            "train.lr=3e-3", "train.log_every=1", "train.val_every=20", "train.val_batches=1",
            "train.ckpt_every=1000", "train.sigreg_directions=64", "train.threads=1", "train.sigreg_lambda=0.1",
        ],
    )  # fmt: skip
    for k, v in train.items():
        setattr(cfg.train, k, v)
    return cfg


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory) -> str:
    """A tiny world model trained for 60 steps on ``tiny_data``."""
    from jepaworld.train import train

    out = str(tmp_path_factory.mktemp("run") / "tiny")
    train(tiny_config(tiny_data, out, steps=60))
    return out


# the serve tests' model and frames (tests/test_serve.py, tests/test_serve_hostile.py): one per module, as before
@pytest.fixture(scope="module")
def serve_wm(tiny_run):
    import jepaworld

    return jepaworld.load(tiny_run, device="cpu")


@pytest.fixture(scope="module")
def serve_frames(serve_wm):
    """Two Two-Room frames at the model's resolution: the starts of seeds 0 and 1 -> ``(obs, other)``."""
    from jepaworld.envs import make

    env = make("tworoom", resolution=serve_wm.meta.resolution)
    obs, _ = env.reset(seed=0)
    other, _ = env.reset(seed=1)
    return obs, other
