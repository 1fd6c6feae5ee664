"""The training loader: same windows whatever the worker count, exact resume, fast disk reads."""

import csv
import pickle
import time
import zlib

import h5py
import numpy as np
import pytest
import torch

from jepaworld.config import ConfigError, load_config
from jepaworld.data import DataError, EpisodeFile, WindowSampler
from jepaworld.data import frames as frames_mod
from jepaworld.data.frames import FrameReader
from jepaworld.errors import JepaworldError
from jepaworld.train import loader as loader_mod
from jepaworld.train.loader import window_batches
from tests.conftest import SAME_BATCHES, tiny_config


def sampler(path, in_memory=False, history=2):
    f = EpisodeFile(path)
    return WindowSampler(f, np.arange(f.n_episodes), history=history, pred=1, frameskip=3, in_memory=in_memory)


def stream(s, steps, workers, batch=8, seed=3):
    return [tuple(t.clone() for t in b) for b in window_batches(s, batch, steps, seed=seed, workers=workers)]


def assert_same(a, b):
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        for u, v in zip(x, y, strict=True):
            assert torch.equal(u, v)


@pytest.mark.parametrize("in_memory", [False, True])
def test_same_windows_whatever_the_worker_count(tiny_data, in_memory):
    s = sampler(tiny_data, in_memory)
    steps = range(1, 7)
    base = stream(s, steps, workers=0)
    assert base[0][0].shape == (8, 3, 16, 16, 3) and base[0][0].dtype == torch.uint8
    assert not torch.equal(base[0][0], base[1][0])  # each step draws its own windows
    for workers in (1, 2):
        assert_same(stream(s, steps, workers), base)
    assert not torch.equal(stream(s, steps, 0, seed=4)[0][0], base[0][0])  # the seed decides them


def test_resumed_loader_continues_the_stream(tiny_data):
    s = sampler(tiny_data)
    full = stream(s, range(1, 9), workers=0)
    assert_same(stream(s, range(5, 9), workers=2), full[4:])
    other_rank = list(window_batches(s, 8, range(1, 3), seed=3, rank=1))
    assert not torch.equal(other_rank[0][0], full[0][0])


@pytest.mark.parametrize("workers", [0, 2])
def test_a_batch_stays_valid_while_the_next_is_taken(tiny_data, workers):
    """Pixels live in a ring of reused buffers: the batch in use and the one before it are never written over."""
    s = sampler(tiny_data)
    want = stream(s, range(1, 15), workers=0)  # cloned
    prev = None
    for k, (pixels, _) in enumerate(window_batches(s, 8, range(1, 15), seed=3, workers=workers, prefetch=1)):
        if workers:
            time.sleep(0.02)  # let the workers run as far ahead as they may
        assert torch.equal(pixels, want[k][0]), k
        if prev is not None:
            assert torch.equal(prev, want[k - 1][0]), k
        prev = pixels


def test_worker_batches_equal_the_sampler_windows(tiny_data):
    """What a worker hands over (in shared memory) is what the sampler makes in process."""
    s = sampler(tiny_data)
    (pixels, actions), *_ = stream(s, [5], workers=1)
    index = s.draw(8, loader_mod.batch_generator(3, 0, 5))
    want = s.windows(*s.window_rows(index))
    assert torch.equal(pixels, want[0]) and torch.equal(actions, want[1])


def test_bad_loader_settings_are_clear(tiny_data, tmp_path):
    s = sampler(tiny_data)
    with pytest.raises(JepaworldError, match="loader_workers must be >= 0"):
        window_batches(s, 4, range(1, 3), seed=0, workers=-1)
    with pytest.raises(JepaworldError, match="prefetch must be >= 1"):
        window_batches(s, 4, range(1, 3), seed=0, workers=1, prefetch=0)
    with pytest.raises(ConfigError, match="train.loader_workers must be >= 0, got -2"):
        load_config(None, ["train.loader_workers=-2"])
    with pytest.raises(ConfigError, match="train.prefetch must be >= 1"):
        load_config(None, ["train.prefetch=0"])


def test_disk_sampler_pickles_without_its_handle(tiny_data):
    s = sampler(tiny_data)
    s.sample(4, 0)  # opens the file in this process
    copy = pickle.loads(pickle.dumps(s))
    for a, b in zip(s.sample(16, 7), copy.sample(16, 7), strict=True):
        assert torch.equal(a, b)


def frames(n=12, res=6):
    return np.random.default_rng(0).integers(0, 255, (n, res, res, 3), dtype=np.uint8)


@pytest.mark.parametrize(
    "layout",
    [
        {"chunks": (1, 6, 6, 3), "compression": "gzip", "compression_opts": 1},  # what collect writes
        {"chunks": (1, 6, 6, 3)},  # chunked, not compressed
        {},  # contiguous (as other writers may store it)
        {"chunks": (4, 6, 6, 3), "compression": "gzip"},  # several frames per chunk
        {"chunks": (1, 6, 6, 3), "compression": "gzip", "shuffle": True},  # another filter too
    ],
)
@pytest.mark.parametrize("libz", [True, False])  # inflating into the batch through libz, or with Python's zlib
def test_frame_reader_matches_h5py(tmp_path, layout, libz, monkeypatch):
    if not libz:
        monkeypatch.setattr(frames_mod, "_UNCOMPRESS", None)
    px = frames()
    path = tmp_path / "px.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("pixels", data=px, **layout)
    reader = FrameReader(path)
    assert reader.direct == (layout.get("chunks", (0,))[0] == 1 and "shuffle" not in layout)
    rows = np.array([3, 0, 11, 3, 7, 7])  # repeats are decoded once and copied
    np.testing.assert_array_equal(reader.read(rows), px[rows])
    out = np.zeros((len(rows), 6, 6, 3), np.uint8)
    assert reader.read(rows, out) is out
    np.testing.assert_array_equal(out, px[rows])


def test_damaged_chunk_is_a_data_error(tmp_path):
    path = tmp_path / "px.h5"
    with h5py.File(path, "w") as f:
        ds = f.create_dataset("pixels", data=frames(), chunks=(1, 6, 6, 3), compression="gzip")
        ds.id.write_direct_chunk((2, 0, 0, 0), zlib.compress(b"short"))
        ds.id.write_direct_chunk((3, 0, 0, 0), b"not deflate")
    reader = FrameReader(path)
    np.testing.assert_array_equal(reader.read(np.array([1])), frames()[[1]])
    with pytest.raises(DataError, match="frame row 2 holds 5 bytes, expected 108"):
        reader.read(np.array([2]))
    with pytest.raises(DataError, match="frame row 3 does not inflate"):
        reader.read(np.array([3]))


@pytest.mark.numerics
def test_training_with_workers_matches_training_without(tiny_data, tmp_path):
    from jepaworld.train import train

    for workers in (0, 2):
        cfg = tiny_config(tiny_data, str(tmp_path / f"w{workers}"), steps=5, loader_workers=workers)
        cfg.data.in_memory = False
        train(cfg)
    a, b = (losses(tmp_path / f"w{w}") for w in (0, 2))
    assert len(a) == len(b) == 5
    assert b == pytest.approx(a, rel=SAME_BATCHES)



def losses(run) -> list[float]:
    with open(run / "metrics.csv") as fh:
        return [float(r["loss"]) for r in csv.DictReader(fh)]


def test_compile_option_compiles_the_training_model(tiny_data, tmp_path, monkeypatch):
    from jepaworld.train import train

    compiled = []
    monkeypatch.setattr(torch, "compile", lambda m: compiled.append(type(m).__name__) or m)
    train(tiny_config(tiny_data, str(tmp_path / "c"), steps=2, compile=True))
    assert compiled == ["WorldModel"]
    train(tiny_config(tiny_data, str(tmp_path / "n"), steps=2))
    assert compiled == ["WorldModel"]


def test_frames_larger_than_ram_say_to_read_from_disk(tiny_data, tmp_path, monkeypatch):
    from jepaworld.train import train

    ram = {"SC_PAGE_SIZE": 4096, "SC_PHYS_PAGES": 50}  # 200 kB: less than the tiny file's frames
    monkeypatch.setattr("jepaworld.train.data.os.sysconf", lambda name: ram[name])
    with pytest.raises(DataError, match="set data.in_memory=false"):
        train(tiny_config(tiny_data, str(tmp_path / "mem"), steps=1))
    cfg = tiny_config(tiny_data, str(tmp_path / "disk"), steps=1)
    cfg.data.in_memory = False
    assert train(cfg).step == 1


def test_ranks_read_disjoint_episodes(tiny_data, tmp_path):
    """Under torchrun each rank samples its own episodes (``train_ids[rank::world]``) from the same file."""
    from jepaworld.train.data import build_data
    from jepaworld.train.distributed import Runtime

    cfg = tiny_config(tiny_data, str(tmp_path / "r"))
    cfg.data.in_memory = False
    ranks = [build_data(cfg, Runtime(rank=r, world_size=2, device=torch.device("cpu"))) for r in (0, 1)]
    a, b = (d.train.episode_ids for d in ranks)
    assert len(a) and len(b) and not set(a) & set(b)
    np.testing.assert_array_equal(np.sort(np.concatenate([a, b])), ranks[0].train_ids)
    np.testing.assert_array_equal(ranks[0].val.episode_ids, ranks[1].val.episode_ids)


@pytest.mark.numerics
def test_resume_with_other_loader_settings_reproduces_the_run(tiny_data, tmp_path):
    """Stopped with 2 workers reading from disk, resumed with 1 worker and frames in RAM: the same losses."""
    from jepaworld.train import train

    train(tiny_config(tiny_data, str(tmp_path / "full"), steps=8))

    def stop_at_4(step, metrics):
        if step == 4:
            raise KeyboardInterrupt

    part = tiny_config(tiny_data, str(tmp_path / "part"), steps=8, loader_workers=2)
    part.data.in_memory = False
    with pytest.raises(KeyboardInterrupt):
        train(part, progress=stop_at_4)
    part.train.loader_workers, part.data.in_memory = 1, True
    train(part, resume=True)
    a, b = (losses(tmp_path / n) for n in ("full", "part"))
    assert len(a) == len(b) == 8
    assert b == pytest.approx(a, rel=SAME_BATCHES)


def test_a_worker_data_error_reads_as_one(tiny_data, tmp_path):
    """A file gone while training (a worker opens it anew) is a DataError saying so, not a traceback."""
    path = tmp_path / "gone.h5"
    path.write_bytes(open(tiny_data, "rb").read())
    s = sampler(path)
    path.unlink()
    with pytest.raises(DataError, match="cannot read pixels") as e:
        next(window_batches(s, 4, range(1, 3), seed=0, workers=1))
    assert "Traceback" not in str(e.value) and str(e.value).startswith(str(path))
