"""Latent structure (PCA, temporal straightening) and the self-contained HTML report."""

import base64
import io
import shutil
from html.parser import HTMLParser

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

import jepaworld
from jepaworld.cli.main import app
from jepaworld.errors import JepaworldError
from jepaworld.report import build_report, write_report
from jepaworld.science.structure import (
    SPACES,
    curvature,
    latent_structure,
    pca_2d,
    plane_r2,
    state_columns,
    state_path,
    write_structure,
)
from tests.strict_json import load_strict

runner = CliRunner()


# -- straightening -----------------------------------------------------------------------------------
def test_curvature_of_lines_zigzags_and_reversals():
    rng = np.random.default_rng(0)
    v = rng.normal(size=7)
    line = np.arange(10.0)[:, None] * v  # constant speed
    uneven = np.cumsum(rng.uniform(0.1, 3.0, size=10))[:, None] * v  # same direction, varying speed
    for traj in (line, uneven):
        s = curvature([traj]).summary()
        assert s["curvature_deg"] == pytest.approx(0.0, abs=1e-4) and s["mean_cos"] == pytest.approx(1.0)
        assert s["triples"] == 8 and s["skipped"] == 0
    e1, e2 = np.eye(7)[0], np.eye(7)[1]
    zigzag = np.cumsum([np.zeros(7)] + [e1 if t % 2 == 0 else 2.5 * e2 for t in range(9)], axis=0)
    s = curvature([zigzag]).summary()
    assert s["curvature_deg"] == pytest.approx(90.0) and s["mean_cos"] == pytest.approx(0.0, abs=1e-12)
    back_and_forth = np.array([[0.0, 0], [1, 0], [0, 0], [1, 0]])
    assert curvature([back_and_forth]).summary()["curvature_deg"] == pytest.approx(180.0)
    # a batch array counts like a list of trajectories; a frame that did not move has no angle
    batch = curvature(np.stack([line, line[::-1]])).summary()
    assert batch["triples"] == 16 and batch["curvature_deg"] == pytest.approx(0.0, abs=1e-4)
    still = np.array([[0.0, 0], [1, 0], [1, 0], [2, 0], [3, 0]])
    s = curvature([still]).summary()
    assert s["skipped"] == 2 and s["triples"] == 1 and s["curvature_deg"] == pytest.approx(0.0, abs=1e-4)
    assert sum(s["hist"]) == 1


def test_pca_shapes_and_axes():
    rng = np.random.default_rng(1)
    axes, _ = np.linalg.qr(rng.normal(size=(12, 12)))
    scales = np.array([10.0, 4.0] + [0.5] * 10)
    x = (rng.normal(size=(500, 12)) * scales) @ axes.T + 3.0
    p = pca_2d(x)
    assert p.coords.shape == (500, 2) and p.components.shape == (2, 12) and p.mean.shape == (12,)
    np.testing.assert_allclose(p.components @ p.components.T, np.eye(2), atol=1e-9)
    assert abs(p.components[0] @ axes[:, 0]) > 0.99 and abs(p.components[1] @ axes[:, 1]) > 0.99
    ev = p.explained_variance_ratio
    assert ev[0] > ev[1] > 0 and ev.sum() < 1 and ev[0] == pytest.approx(100 / (100 + 16 + 2.5), abs=0.05)
    assert pca_2d(x[:, :1]).coords.shape == (500, 2)  # one-dimensional data: a zero second axis
    with pytest.raises(JepaworldError):
        pca_2d(x[:1])


def test_state_columns_per_env():
    state = np.array([[10, 20, 30, 40, 0.5, 0, 0], [1, 2, 3, 4, 7.0, 0, 0]], np.float32)
    c = state_columns("pusht", state)
    assert c.names == ["agent x", "agent y", "block x", "block y", "block angle (deg)"] and c.cyclic[-1]
    assert 0 <= c.values[1, 4] < 360 and c.values[1, 4] == pytest.approx(np.degrees(7.0 - 2 * np.pi), rel=1e-5)
    assert state_path(c).shape == (2, 6)  # the angle as sin and cos
    assert state_columns("tworoom", state[:, :2]).names == ["agent x", "agent y"]
    assert state_columns("gymnasium:X", state).names == ["state[0]", "state[1]", "state[2]", "state[3]"]
    # R^2 from the PCA plane: 1 for a quantity that is an affine function of it, ~0 for one that is not
    rng = np.random.default_rng(0)
    xy = rng.normal(size=(300, 2))
    cols = state_columns("tworoom", np.column_stack([2 * xy[:, 0] - xy[:, 1] + 5, rng.normal(size=300)]))
    r2 = plane_r2(xy, cols)
    assert r2["agent x"] == pytest.approx(1.0) and r2["agent y"] < 0.05


def test_latent_structure_on_the_tiny_run(tiny_run, tmp_path):
    wm = jepaworld.load(tiny_run, device="cpu")
    r = latent_structure(wm, frames=5)
    n = r.protocol["frames"]
    assert n == r.protocol["episodes"] * 5 and len(r.pca["coords"]) == n and len(r.pca["coords"][0]) == 2
    assert list(r.pca["columns"]) == ["agent x", "agent y"] and len(r.pca["episode"]) == n
    assert list(r.straightening) == list(SPACES)
    for s in r.straightening.values():
        assert s["triples"] + s["skipped"] == r.protocol["episodes"] * 3
        assert s["triples"] == 0 or 0 <= s["curvature_deg"] <= 180
    write_structure(r, tmp_path)
    assert load_strict(tmp_path / "results.json")["straightening"]["pixels"]["triples"] >= 0
    assert {p.name for p in tmp_path.glob("*.png")} == {"pca.png", "straightening.png"}
    with pytest.raises(JepaworldError, match="--frames"):
        latent_structure(wm, frames=2)


# -- the report --------------------------------------------------------------------------------------
class Refs(HTMLParser):
    """Every src / href in a page, and each <img>'s src."""

    def __init__(self) -> None:
        super().__init__()
        self.refs, self.imgs, self.ids = [], [], set()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for k in ("src", "href"):
            if a.get(k) is not None:
                self.refs.append(a[k])
        if tag == "img":
            self.imgs.append(a.get("src", ""))
        if a.get("id"):
            self.ids.add(a["id"])


def parse(page: str) -> Refs:
    p = Refs()
    p.feed(page)
    return p


def check_self_contained(page: str) -> dict[str, int]:
    """Every reference is a data URI or an in-page anchor; every image decodes. Returns formats -> count."""
    p = parse(page)
    assert all(r.startswith(("data:", "#")) for r in p.refs), [r[:60] for r in p.refs if not r.startswith("data:")]
    formats: dict[str, int] = {}
    for src in p.imgs:
        head, _, b64 = src.partition(",")
        assert head in ("data:image/png;base64", "data:image/gif;base64"), head
        raw = base64.b64decode(b64, validate=True)
        Image.open(io.BytesIO(raw)).verify()
        fmt = Image.open(io.BytesIO(raw)).format
        assert fmt == head[11:14].upper()
        formats[fmt] = formats.get(fmt, 0) + 1
    return formats


@pytest.fixture(scope="module")
def run_copy(tiny_run, tmp_path_factory):
    """A copy of the tiny run (the report's inputs are written into it)."""
    run = tmp_path_factory.mktemp("report") / "tiny"
    shutil.copytree(tiny_run, run)
    return run


def test_report_sections_follow_what_exists(run_copy):
    ids = parse(build_report(run_copy)).ids
    assert {"config", "training"} <= ids and not {"eval", "science"} & ids
    r = runner.invoke(app, [
        "eval", "--ckpt", str(run_copy), "--episodes", "3", "--goal-offset", "10", "--videos", "1",
        "--set", "plan.samples=8", "--set", "plan.iterations=2", "--set", "plan.elites=2",
        "--out", str(run_copy / "eval" / "tiny-eval"),
    ])  # fmt: skip
    assert r.exit_code == 0, r.output
    for cmd in (["surprise", "--frames", "6", "--event-step", "3"], ["structure", "--frames", "6"]):
        r = runner.invoke(app, [cmd[0], str(run_copy), "--device", "cpu", "--threads", "1", *cmd[1:]])
        assert r.exit_code == 0, r.output
    assert "curvature" in r.output and "pixels" in r.output
    r = runner.invoke(app, ["report", str(run_copy)])
    assert r.exit_code == 0, r.output
    page = (run_copy / "report.html").read_text()
    formats = check_self_contained(page)
    # loss.png, success.png, latent_distance.png, surprise.png, pca.png, straightening.png; one GIF
    assert formats.get("PNG", 0) >= 5 and formats.get("GIF") == 1
    ids = parse(page).ids
    assert {"config", "training", "eval", "science", "eval-tiny-eval", "science-surprise",
            "science-structure"} <= ids  # fmt: skip
    assert "science-probe" not in ids and "science-rollout-error" not in ids
    for text in ("random actions", "95% CI", "training curves", "latent distance", "Rollouts of the planner",
                 "teleport", "curvature", "untrained encoder", "pixels", "<details"):  # fmt: skip
        assert text in page, text
    assert page.isascii()
    out = write_report(run_copy, out=run_copy / "elsewhere" / "r.html")
    assert check_self_contained(out.read_text()) == formats


def test_report_of_a_folder_that_is_not_a_run(tmp_path):
    with pytest.raises(JepaworldError, match="not a folder"):
        build_report(tmp_path / "missing")
    with pytest.raises(JepaworldError, match="run folder"):
        build_report(tmp_path)
    r = runner.invoke(app, ["report", str(tmp_path)])
    assert r.exit_code == 2
