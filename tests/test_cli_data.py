import os

from typer.testing import CliRunner

from jepaworld.cli.main import app

runner = CliRunner()


def test_collect_and_info(tmp_path):
    out = tmp_path / "d.h5"
    args = [
        "collect",
        "--episodes",
        "3",
        "--max-steps",
        "6",
        "--resolution",
        "16",
        "--workers",
        "1",
        "--out",
        str(out),
        "--set",
        "data.noise=0.1",
    ]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "3 episodes" in " ".join(r.output.split()) and "21 frames" in " ".join(r.output.split())
    r = runner.invoke(app, args)
    assert r.exit_code == 2 and "--overwrite" in " ".join(r.output.split())
    r = runner.invoke(app, ["data", "info", str(out)])
    assert r.exit_code == 0, r.output
    assert (
        "valid" in " ".join(r.output.split())
        and "(21, 16, 16, 3)" in " ".join(r.output.split())
        and "0.1" in " ".join(r.output.split())
    )


def test_info_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(os.urandom(100))
    r = runner.invoke(app, ["data", "info", str(bad)])
    assert r.exit_code == 2 and "not a readable HDF5" in " ".join(r.output.split())
    r = runner.invoke(app, ["data", "info", str(tmp_path / "none.h5")])
    assert r.exit_code == 2 and "no such file" in " ".join(r.output.split())
    r = runner.invoke(app, ["collect", "--env", "nope", "--out", str(tmp_path / "x.h5")])
    assert r.exit_code == 2 and "valid names" in " ".join(r.output.split())
