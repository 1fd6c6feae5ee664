"""LeRobot datasets: import (a dataset written by LeRobot 0.6.1 itself), export, round trip, errors, resume;
training settings from the fps; the offline evaluation of a run trained on imported episodes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("av")
pa = pytest.importorskip("pyarrow")
import pyarrow.parquet as pq  # noqa: E402

from jepaworld.data import DataError, EpisodeFile  # noqa: E402
from jepaworld.data.lerobot import export_lerobot, import_lerobot  # noqa: E402
from jepaworld.data.lerobot.timing import timing_for  # noqa: E402
from jepaworld.data.lerobot.video import VideoFormat  # noqa: E402
from tests.strict_json import load_strict  # noqa: E402

DATA = Path(__file__).parent / "data"
DATASET = DATA / "lerobot_tworoom"


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


@pytest.fixture(scope="module")
def source() -> dict[str, np.ndarray]:
    return dict(np.load(DATA / "lerobot_tworoom_source.npz"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("lerobot") / "tworoom.h5"
    import_lerobot(DATASET, out)
    return out


@pytest.fixture
def dataset(tmp_path) -> Path:
    """A writable copy of the test dataset, to damage."""
    return Path(shutil.copytree(DATASET, tmp_path / "ds"))


def test_import_keeps_frames_actions_states_episodes_tasks(imported, source):
    with EpisodeFile(imported) as f:
        f.validate()
        assert f.ep_len.tolist() == source["lengths"].tolist()
        np.testing.assert_array_equal(f.action[...], source["actions"])  # every row, the last ones included
        np.testing.assert_array_equal(f.state[...], source["states"])
        np.testing.assert_array_equal(f.file["proprio"][...], source["states"])
        assert psnr(f.pixels[...], source["frames"]) > 33  # AV1 at CRF 30: ~35-38 dB
        attrs = f.attrs
        assert attrs["env"] == "lerobot:tworoom-sim" and attrs["fps"] == 10 and attrs["source"] == "lerobot"
        assert attrs["camera"] == "observation.images.top"
        assert json.loads(attrs["left_out"]) == ["observation.images.flipped"]
        tasks = json.loads(attrs["tasks"])
        assert [tasks[i] for i in f.file["ep_task"][...]] == ["reach the door", "reach the goal room"] * 4
        assert f.file["ep_source_index"][...].tolist() == list(range(8))


def test_second_camera_and_resolution(tmp_path, source):
    out = tmp_path / "flipped32.h5"
    import_lerobot(DATASET, out, camera="observation.images.flipped", resolution=32)
    with EpisodeFile(out) as f:
        px = f.pixels[...]
    assert px.shape == (296, 32, 32, 3)
    small = source["frames"][:, :, ::-1].reshape(296, 32, 2, 32, 2, 3).mean((2, 4))  # mirrored, 2x2 averaged
    assert psnr(px, small) > 30


def test_export_round_trip(imported, tmp_path):
    folder = tmp_path / "exported"
    export_lerobot(imported, folder)
    info = json.loads((folder / "meta" / "info.json").read_text())
    assert info["codebase_version"] == "v3.0" and info["fps"] == 10 and info["total_frames"] == 296
    assert info["features"]["observation.images.top"]["info"]["video.codec"] == "av1"
    tasks = pq.read_table(folder / "meta" / "tasks.parquet").to_pandas() if _has_pandas() else None
    if tasks is not None:
        assert list(tasks.index) == ["reach the door", "reach the goal room"]
    back = tmp_path / "back.h5"
    import_lerobot(folder, back)
    with EpisodeFile(imported) as a, EpisodeFile(back) as b:
        np.testing.assert_array_equal(a.action[...], b.action[...])
        np.testing.assert_array_equal(a.state[...], b.state[...])
        np.testing.assert_array_equal(a.ep_len, b.ep_len)
        np.testing.assert_array_equal(a.file["ep_task"][...], b.file["ep_task"][...])
        assert psnr(a.pixels[...], b.pixels[...]) > 33


def test_near_lossless_export(imported, tmp_path):
    """libx264 at CRF 0 in 4:4:4 keeps every pixel within a few levels; info.json says how it was encoded."""
    folder = tmp_path / "lossless"
    export_lerobot(imported, folder, video=VideoFormat("libx264", crf=0, pix_fmt="yuv444p"))
    video = json.loads((folder / "meta" / "info.json").read_text())["features"]["observation.images.top"]["info"]
    assert (video["video.codec"], video["video.crf"], video["video.pix_fmt"]) == ("h264", 0, "yuv444p")
    back = tmp_path / "lossless.h5"
    import_lerobot(folder, back)
    with EpisodeFile(imported) as a, EpisodeFile(back) as b:
        err = np.abs(a.pixels[...].astype(int) - b.pixels[...].astype(int))
    assert err.max() <= 4, err.max()
    with pytest.raises(DataError, match="crf must be in 0..63"):
        VideoFormat(crf=99)


def _has_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def test_export_of_collected_episodes(tiny_data, tmp_path):
    """A file of our own (state, zero last actions, no fps) exports and comes back."""
    folder = tmp_path / "tiny"
    export_lerobot(tiny_data, folder, task="reach the target")
    back = tmp_path / "tiny.h5"
    import_lerobot(folder, back, resolution=16)
    with EpisodeFile(tiny_data) as a, EpisodeFile(back) as b:
        np.testing.assert_array_equal(a.action[...], b.action[...])
        np.testing.assert_array_equal(a.state[...], b.state[...])
        assert psnr(a.pixels[...], b.pixels[...]) > 25
        assert json.loads(b.attrs["tasks"]) == ["reach the target"] and b.attrs["env"] == "lerobot:tworoom"


def test_missing_camera_and_unknown_version(dataset, tmp_path):
    with pytest.raises(DataError, match="no camera 'observation.images.side'.*observation.images.top"):
        import_lerobot(dataset, tmp_path / "x.h5", camera="observation.images.side")
    info = json.loads((dataset / "meta" / "info.json").read_text())
    info["codebase_version"] = "v1.6"
    (dataset / "meta" / "info.json").write_text(json.dumps(info))
    with pytest.raises(DataError, match="format v1.6 is not supported"):
        import_lerobot(dataset, tmp_path / "x.h5")
    with pytest.raises(DataError, match="not a LeRobot dataset"):
        import_lerobot(tmp_path, tmp_path / "x.h5")


def test_mismatched_lengths(dataset, tmp_path):
    path = next((dataset / "meta" / "episodes").glob("*/*.parquet"))
    t = pq.read_table(path)
    lengths = t.column("length").to_numpy().copy()
    lengths[3] += 1
    pq.write_table(t.set_column(t.schema.get_field_index("length"), "length", pa.array(lengths)), path)
    with pytest.raises(DataError, match="episode 3: meta/episodes gives length 37 but .* holds 36 rows"):
        import_lerobot(dataset, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_damaged_video_names_episode_and_frame(dataset, tmp_path):
    video = next((dataset / "videos" / "observation.images.top").glob("*/*.mp4"))
    data = video.read_bytes()
    video.write_bytes(data[: len(data) * 2 // 3])  # truncated: the last episodes' frames are gone
    with pytest.raises(DataError, match=r"episode \d, frame \d+: .*(damaged|truncated)"):
        import_lerobot(dataset, tmp_path / "x.h5")
    assert not (tmp_path / "x.h5").exists()


def test_interrupted_import_resumes(tmp_path, monkeypatch):
    from jepaworld.data.lerobot import importer

    monkeypatch.setattr(importer, "SHARD_FRAMES", 70)  # shards: episodes 0-1, 2-3, 4, 5, 6, 7
    calls: list[int] = []
    interrupted: list[bool] = []
    real = importer.read_frames

    def flaky(path, times, fps, size, episode):
        calls.append(episode)
        if episode == 5 and not interrupted:
            interrupted.append(True)
            raise KeyboardInterrupt
        return real(path, times, fps, size, episode)

    monkeypatch.setattr(importer, "read_frames", flaky)
    out = tmp_path / "x.h5"
    with pytest.raises(KeyboardInterrupt):
        import_lerobot(DATASET, out)
    assert not out.exists() and len(list((tmp_path / "x.h5.parts").glob("*.h5"))) == 3
    with pytest.raises(DataError, match="unfinished import with other settings"):
        import_lerobot(DATASET, out, resolution=32)
    calls.clear()
    import_lerobot(DATASET, out)
    assert calls == [5, 6, 7]  # the finished shards (episodes 0-4) were kept
    assert not (tmp_path / "x.h5.parts").exists()
    with EpisodeFile(out) as f:
        assert f.n_frames == 296
    with pytest.raises(DataError, match="already exists"):
        import_lerobot(DATASET, out)


def test_v21_layout(imported, tmp_path):
    """A v2.1 folder (one parquet and one MP4 per episode, jsonl metadata) imports the same episodes."""
    from jepaworld.data.lerobot.video import VideoWriter

    root = tmp_path / "v21"
    with EpisodeFile(imported) as f:
        arrays = f.arrays()
        tasks = json.loads(f.attrs["tasks"])
        ep_task = f.file["ep_task"][...]
    (root / "meta").mkdir(parents=True)
    episodes = []
    for e, (n, o) in enumerate(zip(arrays["ep_len"], arrays["ep_offset"], strict=True)):
        w = VideoWriter(root / "videos" / "chunk-000" / "observation.images.top" / f"episode_{e:06d}.mp4", 10, 64)
        w.write(arrays["pixels"][o : o + n])
        w.close()
        dim = pa.list_(pa.float32(), 2)
        table = pa.table({
            "action": pa.array(arrays["action"][o : o + n].tolist(), dim),
            "observation.state": pa.array(arrays["state"][o : o + n].tolist(), dim),
            "timestamp": pa.array(np.arange(n, dtype=np.float32) / 10), "frame_index": pa.array(np.arange(n)),
            "episode_index": pa.array(np.full(n, e)), "index": pa.array(np.arange(o, o + n)),
            "task_index": pa.array(np.full(n, ep_task[e])),
        })  # fmt: skip
        (root / "data" / "chunk-000").mkdir(parents=True, exist_ok=True)
        pq.write_table(table, root / "data" / "chunk-000" / f"episode_{e:06d}.parquet")
        episodes.append({"episode_index": e, "tasks": [tasks[ep_task[e]]], "length": int(n)})
    (root / "meta" / "episodes.jsonl").write_text("".join(json.dumps(r) + "\n" for r in episodes))
    features = json.loads((DATASET / "meta" / "info.json").read_text())["features"]
    del features["observation.images.flipped"]
    info = {"codebase_version": "v2.1", "fps": 10, "features": features, "robot_type": "tworoom-sim",
            "chunks_size": 1000}  # fmt: skip
    (root / "meta" / "info.json").write_text(json.dumps(info))
    out = tmp_path / "v21.h5"
    import_lerobot(root, out)
    with EpisodeFile(out) as b:
        np.testing.assert_array_equal(b.action[...], arrays["action"])
        np.testing.assert_array_equal(b.ep_len, arrays["ep_len"])
        assert psnr(b.pixels[...], arrays["pixels"]) > 33 and b.attrs["lerobot_version"] == "v2.1"


def test_timing_from_fps():
    assert timing_for(10, 5, 3, 1, 200) == (5, 3)  # the presets' own rate
    assert timing_for(30, 5, 3, 1, 200) == (15, 3)  # same 0.5 s per block
    assert timing_for(50, 5, 1, 1, 1000) == (25, 1)
    assert timing_for(5, 5, 1, 1, 100) == (2, 1)
    assert timing_for(30, 5, 3, 1, 40) == (15, 1)  # the shortest episode must hold a window: history goes first


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> Path:
    """A tiny model trained on the imported dataset at 16 px, its env and timing taken from the file."""
    from jepaworld.data.lerobot.timing import adapt_to_recorded
    from jepaworld.train import train
    from tests.conftest import tiny_config

    root = tmp_path_factory.mktemp("recorded")
    data = root / "tworoom16.h5"
    import_lerobot(DATASET, data, resolution=16)
    cfg = tiny_config(str(data), str(root / "run"), steps=30)
    cfg.data.val_fraction = 0.25
    lines = adapt_to_recorded(cfg, ["data.history=1"])
    assert cfg.data.env == "lerobot:tworoom-sim" and lines == ["data.env=lerobot:tworoom-sim (the file's)"]
    train(cfg)
    return root / "run"


def test_offline_eval_and_report(recorded_run):
    """rollout-error, probes, surprise timelines and the offline planning check need no simulator."""
    from typer.testing import CliRunner

    from jepaworld.cli.main import app
    from jepaworld.report import build_report

    r = CliRunner().invoke(app, ["offline-eval", str(recorded_run), "--pairs", "8", "--probe-frames", "60",
                                 "--threads", "1"])  # fmt: skip
    assert r.exit_code == 0, r.output
    science = recorded_run / "science"
    for part in ("rollout-error", "probe", "surprise-timeline", "offline-plan"):
        assert (science / part / "results.json").exists(), part
    plan = load_strict(science / "offline-plan" / "results.json")
    assert plan["rows"]["logged actions"]["first_block_mse"] == 0 and plan["protocol"]["goal_offset"] == 25
    assert plan["rows"]["logged mean"]["first_block_cos"] is None and 0 <= plan["wins"]["end_error"] <= 1
    probe = load_strict(science / "probe" / "results.json")
    assert [s["quantity"] for s in probe["scores"]] == ["observation.state x", "observation.state y"]
    timeline = load_strict(science / "surprise-timeline" / "results.json")
    assert timeline["protocol"]["fps"] == 10 and timeline["timelines"][0]["task"] in ("reach the door",
                                                                                      "reach the goal room")
    page = build_report(recorded_run)
    assert "Offline planning check" in page and "Surprise along held-out episodes" in page
    assert "unexpected layout" not in page
    r = CliRunner().invoke(app, ["eval", "--ckpt", str(recorded_run)])
    assert r.exit_code != 0 and "offline-eval" in r.output  # no simulator: says what to run instead


def test_rollout_horizon_keeps_enough_windows():
    from jepaworld.cli.offline_eval import rollout_horizon

    assert rollout_horizon([200, 200], 2, 5, 16) == 16  # long episodes: the asked horizon
    assert rollout_horizon([34, 38], 2, 5, 16) == 3  # 34 + 38 - 2 * 20 = 32 windows at horizon 3
    assert rollout_horizon([8], 2, 5, 16) == 1


def test_cli_import_export(tmp_path):
    from typer.testing import CliRunner

    from jepaworld.cli.main import app

    out = tmp_path / "cli.h5"
    r = CliRunner().invoke(app, ["data", "import", "lerobot", str(DATASET), "--out", str(out), "--resolution", "32"])
    assert r.exit_code == 0, r.output
    assert "296 frames" in r.output and "jepaworld train -c cpu --data" in r.output
    r = CliRunner().invoke(app, ["data", "export", "lerobot", str(out), "--out", str(tmp_path / "ds")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "ds" / "meta" / "info.json").exists()
    r = CliRunner().invoke(app, ["data", "import", "lerobot", str(DATASET), "--out", str(out), "--camera", "side"])
    assert r.exit_code != 0 and "no camera 'side'" in r.output
