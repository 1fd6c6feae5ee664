"""LeRobot import / export: speed (frames/s), the round trip's fidelity, and LeRobot's own read-back.

    python benchmarks/lerobot_io.py [--data FILE.h5] [--episodes 20] [--repeats 3]
                                    [--lerobot-venv /tmp/lerobot-venv] [--python python3.12]
                                    [--codec libx264 --crf 0 --pix-fmt yuv444p]   # near-lossless export

1. Import of the LeRobot 0.6.1 dataset in ``tests/data/lerobot_tworoom`` (AV1, 64 px): frames/s, and
   the PSNR of the decoded frames against what went into LeRobot's writer.
2. Round trip of a Push-T file (``--data``, else ``--episodes`` collected with the pusht-cpu preset):
   export (AV1 encode) and import again, frames/s each; PSNR of the frames, and whether actions,
   states and episode lengths come back identical.
3. With ``--lerobot-venv``: LeRobot itself reads the exported dataset back (``LeRobotDataset``, PyAV
   backend) in that venv; every frame, action and state is compared with the file. LeRobot needs
   Python >= 3.12 and torch < 2.12, so it cannot share jepaworld's venv: the venv is made on first use
   with ``--python`` and ``pip install "lerobot[dataset]==0.6.1"`` (a few minutes).

Speeds are the best of ``--repeats`` on this machine, one process (PyAV decodes with its own threads).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jepaworld.data import EpisodeFile  # noqa: E402
from jepaworld.data.lerobot import export_lerobot, import_lerobot  # noqa: E402
from jepaworld.data.lerobot.video import VideoFormat  # noqa: E402

LEROBOT = "lerobot[dataset]==0.6.1"
DATASET = ROOT / "tests" / "data" / "lerobot_tworoom"

# Runs in the LeRobot venv: every item of the dataset -> an npz of frames (uint8), actions, states, tasks.
READER = r"""
import sys, json, numpy as np
from lerobot.datasets.lerobot_dataset import LeRobotDataset
ds = LeRobotDataset("local/jepaworld-export", root=sys.argv[1], video_backend="pyav")
key = ds.meta.camera_keys[0]
frames, actions, states, episodes, tasks = [], [], [], [], []
for i in range(len(ds)):
    item = ds[i]
    frames.append((item[key].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8))
    actions.append(item["action"].numpy()); states.append(item["observation.state"].numpy())
    episodes.append(int(item["episode_index"])); tasks.append(item["task"])
np.savez(sys.argv[2], frames=np.stack(frames), actions=np.stack(actions), states=np.stack(states),
         episodes=np.array(episodes))
info = ds.meta.info
version = info["codebase_version"] if isinstance(info, dict) else str(info.codebase_version)
print(json.dumps({"frames": len(ds), "episodes": ds.meta.total_episodes, "fps": ds.fps, "camera": key,
                  "tasks": sorted(set(tasks)), "version": version}))
"""


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def best(fn, repeats: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return min(times), out


def lerobot_python(venv: Path, python: str) -> Path:
    exe = venv / "bin" / "python"
    if not exe.exists():
        print(f"creating {venv} with {python} and {LEROBOT} (a few minutes)...", flush=True)
        subprocess.run([python, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(exe), "-m", "pip", "install", "-q", LEROBOT], check=True)
    return exe


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, help="episode file to round-trip (default: collect Push-T episodes)")
    ap.add_argument("--episodes", type=int, default=20)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--lerobot-venv", type=Path, help="venv with LeRobot (made on first use) for the read-back check")
    ap.add_argument("--python", default="python3.12", help="interpreter for a new LeRobot venv")
    default = VideoFormat()
    ap.add_argument("--codec", default=default.codec, help="export encoder (default: LeRobot's AV1)")
    ap.add_argument("--crf", type=int, default=default.crf)
    ap.add_argument("--pix-fmt", default=default.pix_fmt)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="lerobot_io_"))
    results: dict[str, object] = {}

    # 1. LeRobot's own dataset -> ours
    src = np.load(DATASET.parent / "lerobot_tworoom_source.npz")
    out = tmp / "tworoom.h5"
    sec, _ = best(lambda: import_lerobot(DATASET, out, overwrite=True), args.repeats)
    with EpisodeFile(out) as f:
        px = f.pixels[...]
        same_actions = bool(np.array_equal(f.action[...], src["actions"]))
    results["import (LeRobot 0.6.1 dataset, AV1 64 px)"] = {
        "frames": len(px), "frames_per_s": round(len(px) / sec), "psnr_db": round(psnr(px, src["frames"]), 2),
        "actions_identical": same_actions,
    }  # fmt: skip

    # 2. Push-T round trip
    data = args.data
    if data is None:
        from jepaworld.config import load_config
        from jepaworld.data.collect import collect

        cfg = load_config("pusht-cpu").data
        cfg.episodes, cfg.workers = args.episodes, 1
        data = tmp / "pusht.h5"
        collect(cfg, data)
    folder, back = tmp / "exported", tmp / "back.h5"
    video = VideoFormat(args.codec, args.crf, args.pix_fmt)
    sec_export, _ = best(lambda: export_lerobot(data, folder, video=video, overwrite=True), args.repeats)
    with EpisodeFile(data) as f:
        n, res = f.n_frames, f.resolution
    sec_import, _ = best(lambda: import_lerobot(folder, back, resolution=res, overwrite=True), args.repeats)
    with EpisodeFile(data) as a, EpisodeFile(back) as b:
        ours = a.arrays()
        results["round trip (export -> import)"] = {
            "file": str(data), "video": f"{video.codec} crf {video.crf} {video.pix_fmt}",
            "episodes": a.n_episodes, "frames": n, "resolution": res,
            "export_frames_per_s": round(n / sec_export), "import_frames_per_s": round(n / sec_import),
            "psnr_db": round(psnr(ours["pixels"], b.pixels[...]), 2),
            "actions_identical": bool(np.array_equal(ours["action"], b.action[...])),
            "states_identical": bool(np.array_equal(ours["state"], b.state[...])),
            "episode_lengths_identical": bool(np.array_equal(ours["ep_len"], b.ep_len)),
            "video_bytes": sum(p.stat().st_size for p in (folder / "videos").rglob("*.mp4")),
        }  # fmt: skip

    # 3. LeRobot reads the export back
    if args.lerobot_venv:
        exe = lerobot_python(args.lerobot_venv, args.python)
        npz = tmp / "lerobot_read.npz"
        t0 = time.perf_counter()
        run = subprocess.run([str(exe), "-c", READER, str(folder), str(npz)], capture_output=True, text=True,
                             env={"HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"})  # fmt: skip
        if run.returncode != 0:
            results["LeRobot read-back"] = {"ok": False, "error": run.stderr.strip().splitlines()[-1:]}
        else:
            info = json.loads(run.stdout.strip().splitlines()[-1])
            got = np.load(npz)
            results["LeRobot read-back"] = {
                "ok": True, **info, "seconds": round(time.perf_counter() - t0, 1),
                "psnr_db_vs_ours": round(psnr(got["frames"], ours["pixels"]), 2),
                "actions_identical": bool(np.array_equal(got["actions"], ours["action"])),
                "states_identical": bool(np.array_equal(got["states"], ours["state"])),
                "episode_index_matches": bool(np.array_equal(got["episodes"], np.repeat(np.arange(len(ours["ep_len"])),
                                                                                        ours["ep_len"]))),
            }  # fmt: skip
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
