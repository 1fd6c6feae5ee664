"""`torchrun` data parallelism on CPU (gloo): two ranks train one model and rank 0 checkpoints."""

import os
import subprocess
import sys

import jepaworld
from jepaworld.config import save_config
from tests.conftest import tiny_config


def test_torchrun_two_processes(tiny_data, tmp_path):
    cfg = tiny_config(tiny_data, str(tmp_path / "run"), steps=6, batch_size=16)
    save_config(cfg, tmp_path / "tiny.yaml")
    torchrun = os.path.join(os.path.dirname(sys.executable), "torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        torchrun,
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "jepaworld",
        "train",
        "-c",
        str(tmp_path / "tiny.yaml"),
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=240)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wm = jepaworld.load(tmp_path / "run", device="cpu")
    assert wm.meta.step == 6
    lines = (tmp_path / "run" / "metrics.csv").read_text().strip().splitlines()
    assert len(lines) == 1 + 6  # only rank 0 writes metrics
