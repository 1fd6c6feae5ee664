"""Without the mujoco extra, Reacher and Cube say how to install it (runs whether or not it is installed)."""

import importlib.util

import pytest
from typer.testing import CliRunner

from jepaworld.cli.main import app
from jepaworld.envs import get_spec, make, mujoco_gl
from jepaworld.errors import JepaworldError


@pytest.fixture
def no_mujoco(monkeypatch):
    real = importlib.util.find_spec
    missing = ("mujoco", "dm_control")
    fake = lambda name, *a: None if name in missing else real(name, *a)  # noqa: E731
    monkeypatch.setattr(mujoco_gl.importlib.util, "find_spec", fake)
    mujoco_gl.require_mujoco.cache_clear()
    yield
    mujoco_gl.require_mujoco.cache_clear()


@pytest.mark.parametrize("name", ["reacher", "cube"])
def test_missing_extra_says_how_to_install(no_mujoco, name):
    for call in (lambda: get_spec(name), lambda: make(name, resolution=16)):
        with pytest.raises(JepaworldError, match=r"pip install -e '\.\[mujoco\]'"):
            call()


def test_cli_reports_the_missing_extra(no_mujoco, tmp_path):
    r = CliRunner().invoke(app, ["collect", "--env", "reacher", "--episodes", "1", "--out", str(tmp_path / "r.h5")])
    assert r.exit_code == 2, r.output
    assert "[mujoco]" in r.output and "error" in r.output
