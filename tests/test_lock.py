"""One writer at a time on a run folder, a memory file and a collection output (issue 29)."""

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from jepaworld.lock import InUseError, exclusive
from tests.conftest import tiny_config


def test_a_second_holder_is_refused_with_the_first_ones_pid(tmp_path):
    lock = tmp_path / "run" / ".lock"
    with exclusive(lock, "the run folder run"):
        with pytest.raises(InUseError, match=rf"the run folder run is in use by process {os.getpid()}"):
            with exclusive(lock, "the run folder run"):
                pass
    with exclusive(lock, "the run folder run"):  # released: free again
        pass


def test_a_killed_holder_leaves_no_lock_behind(tmp_path):
    lock = tmp_path / ".lock"
    code = textwrap.dedent(f"""
        import time
        from jepaworld.lock import exclusive
        with exclusive({str(lock)!r}, "x"):
            print("held", flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "held"
        with pytest.raises(InUseError, match=f"process {proc.pid}"):
            with exclusive(lock, "x"):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    with exclusive(lock, "x"):  # kill -9 released it
        pass


def test_two_trainings_on_one_run_folder(tiny_data, tmp_path):
    """The second training is refused before clean_stale could delete the first's temp files."""
    from jepaworld.train import train

    run = tmp_path / "run"
    leftover = run / "checkpoints" / ".step-0000003.abc"  # the first training's checkpoint being written
    leftover.mkdir(parents=True)
    with exclusive(run / ".lock", f"the run folder {run}"):
        with pytest.raises(InUseError, match=f"in use by process {os.getpid()}"):
            train(tiny_config(tiny_data, str(run), steps=1))
        assert leftover.exists()
    assert train(tiny_config(tiny_data, str(run), steps=1)).step == 1 and not leftover.exists()


def test_two_memory_builds_of_one_file(tiny_run, tmp_path):
    import jepaworld
    from jepaworld.memory import build_memory

    wm, out = jepaworld.load(tiny_run, device="cpu"), tmp_path / "memory.sqlite"
    with exclusive(f"{out}.lock", f"the memory {out}"):
        with pytest.raises(InUseError, match="the memory .* is in use by process"):
            build_memory(wm, out)
    assert build_memory(wm, out, chunk=50).episodes_added > 0


def test_two_collections_into_one_output(tmp_path):
    from jepaworld.config import DataConfig
    from jepaworld.data.collect import collect, parts_dir

    out = tmp_path / "d.h5"
    cfg = DataConfig(episodes=2, max_steps=5, resolution=16, workers=1, seed=1)
    with exclusive(f"{out}.lock", f"the collection output {out}"):
        with pytest.raises(InUseError, match="the collection output .* is in use by process"):
            collect(cfg, out)
        assert not out.exists() and not parts_dir(out).exists()
    assert collect(cfg, out).episodes == 2
