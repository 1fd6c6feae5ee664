"""Memory: the SQLite store (resumable build, kill -9, foreign files), goals, queries, routes, the navigator."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import jepaworld
from jepaworld.config import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.memory import (
    Condition,
    GraphConfig,
    MemoryGraph,
    MemoryStore,
    Navigator,
    NavigatorConfig,
    NearestIndex,
    build_memory,
)
from jepaworld.memory.query import add_goal, matching_states, nearest_states
from jepaworld.run.episodes import training_episodes
from tests.strict_json import loads_strict


@pytest.fixture(scope="module")
def wm(tiny_run):
    return jepaworld.load(tiny_run)


@pytest.fixture(scope="module")
def built(wm, tmp_path_factory):
    path = tmp_path_factory.mktemp("mem") / "memory.sqlite"
    result = build_memory(wm, path, chunk=3)
    return path, result


CHEAP = PlanConfig(planner="cem", samples=16, elites=4, iterations=2, horizon=3, receding=1)
QUICK = NavigatorConfig(calibration_pairs=32)


def expected_counts(wm) -> tuple[int, int, list[int]]:
    f, ids = training_episodes(wm.meta, "test")
    fs = wm.meta.frameskip
    frames = [len(range(0, int(f.ep_len[e]), fs)) for e in ids]
    return sum(frames), sum(n - 1 for n in frames), ids


def test_build_remembers_every_model_frame_and_resumes(wm, built):
    path, result = built
    states, transitions, ids = expected_counts(wm)
    assert (result.states, result.transitions, result.episodes_added) == (states, transitions, len(ids))
    again = build_memory(wm, path, chunk=3)  # a finished build: nothing to add, nothing duplicated
    assert (again.episodes_added, again.episodes_skipped, again.states) == (0, len(ids), states)
    with MemoryStore.open(path) as store:
        sid, st = store.env_states()
        assert len(sid) == states and st.shape[1] == 2
        assert set(store.entities()) == {"agent"}
        did, dec = store.decoded_states()  # the linear probe's reading of each embedding
        assert len(did) == states and np.isfinite(dec).all()
        # the JSON the memory keeps (the decoder, the entities) is strict JSON
        assert set(loads_strict(store.meta("decoder"))) >= {"mean", "std", "weight", "bias"}
        for columns, fields in store.conn.execute("SELECT columns, fields FROM entities"):
            assert loads_strict(columns) and loads_strict(fields)


def test_interrupted_build_resumes_without_loss(wm, built, tmp_path):
    path = tmp_path / "m.sqlite"
    calls = []

    def stop_after_two(stage, done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_memory(wm, path, chunk=2, progress=stop_after_two)
    with MemoryStore.open(path) as store:
        assert store.count("built") == 4  # two committed chunks of 2 episodes
    result = build_memory(wm, path, chunk=2)
    assert result.episodes_skipped == 4 and result.states == built[1].states


def test_kill_9_during_build_loses_nothing(tiny_run, built, tmp_path):
    path = tmp_path / "k.sqlite"
    script = textwrap.dedent(f"""
        import os, signal, torch, jepaworld
        from jepaworld.memory import build_memory
        torch.set_num_threads(1)
        wm = jepaworld.load({tiny_run!r})
        def kill(stage, done, total):
            if done >= 4:
                os.kill(os.getpid(), signal.SIGKILL)
        build_memory(wm, {str(path)!r}, chunk=2, progress=kill)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert proc.returncode == -9
    with MemoryStore.open(path) as store:
        assert store.count("built") == 4 and store.count("states") > 0
    result = build_memory(jepaworld.load(tiny_run), path, chunk=2)
    assert result.states == built[1].states and result.episodes_skipped == 4


def test_foreign_damaged_and_newer_files_are_refused(tmp_path, built):
    text = tmp_path / "notes.sqlite"
    text.write_text("not a database at all" * 100)
    with pytest.raises(JepaworldError, match="not a readable jepaworld memory"):
        MemoryStore.open(text)
    other = tmp_path / "other.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE meta (key TEXT, value TEXT)")
    with pytest.raises(JepaworldError, match="not a jepaworld memory"):
        MemoryStore.open(other)
    newer = tmp_path / "newer.sqlite"
    newer.write_bytes(built[0].read_bytes())
    with sqlite3.connect(newer) as conn:
        conn.execute("UPDATE meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(JepaworldError, match="schema version 99"):
        MemoryStore.open(newer)
    with pytest.raises(JepaworldError, match="no memory file"):
        MemoryStore.open(tmp_path / "missing.sqlite")


def test_another_runs_memory_is_refused(wm, built, tmp_path):
    from jepaworld.memory import open_for

    copy = tmp_path / "copy.sqlite"
    copy.write_bytes(built[0].read_bytes())
    with sqlite3.connect(copy) as conn:
        conn.execute("UPDATE meta SET value = '12345' WHERE key = 'step'")
    with pytest.raises(JepaworldError, match="not comparable"):
        open_for(wm, copy)


@pytest.mark.numerics
def test_goals_and_queries(wm, built, tmp_path):
    path = tmp_path / "g.sqlite"
    path.write_bytes(built[0].read_bytes())
    f, ids = training_episodes(wm.meta, "test")
    e = ids[0]
    frame, state = np.asarray(f.pixels[int(f.ep_offset[e])]), np.asarray(f.state[int(f.ep_offset[e])])
    with MemoryStore.open(path) as store:
        goal = add_goal(store, wm, "start-0", frame, state=state, source="test")
        with pytest.raises(JepaworldError, match="already remembered"):
            add_goal(store, wm, "start-0", frame)
        add_goal(store, wm, "start-0", frame, replace=True)
        with pytest.raises(JepaworldError, match="no goal named 'nope'"):
            store.goal("nope")
        assert store.goal_names() == ["start-0"]
        assert np.array_equal(store.goal("start-0").image, frame) and goal.z.shape == (32,)
        # the remembered frame itself is the nearest state to its own image
        best = nearest_states(store, wm, frame, k=3)
        # its distance is float32 rounding of re-encoding the same frame: tiny beside ||z||^2 (a neighbour's is not)
        tol = 1e-6 * (1.0 + float(np.square(goal.z, dtype=np.float64).sum()))
        assert (best[0].episode, best[0].step) == (e, 0) and best[0].distance <= tol < best[1].distance
        assert best[0].distance <= best[1].distance <= best[2].distance
        # entity condition on env states: every match within the radius, closest first
        x, y = float(state[0]), float(state[1])
        hits = matching_states(store, Condition("agent", (x, y), 20.0), k=50)
        assert hits and hits[0].distance < 1e-3
        assert all(np.hypot(h.state[0] - x, h.state[1] - y) <= 20.0 for h in hits)
        assert [h.distance for h in hits] == sorted(h.distance for h in hits)
        with pytest.raises(JepaworldError, match="no entity 'block'"):
            matching_states(store, Condition("block", (1.0, 2.0), 5.0))


def assert_k_nearest(ids: np.ndarray, dist: np.ndarray, z: np.ndarray, q: np.ndarray, first_id: int = 0) -> None:
    """ids (Q, k) are a k-nearest set of each query (ties within float32 rounding may come in any order),
    dist their squared distances nearest first; against float64 distances."""
    d = np.square(q[:, None].astype(np.float64) - z[None].astype(np.float64)).sum(-1)  # (Q, N)
    k = ids.shape[1]
    kth = np.sort(d, axis=1)[:, k - 1 : k]
    tol = 1e-5 * kth  # float32 rounding of a distance, scaled by its size
    got = np.take_along_axis(d, ids - first_id, axis=1)
    assert np.all(got <= kth + tol), "a returned neighbour is farther than the k-th nearest"
    assert all(len(set(row)) == k for row in ids.tolist())
    np.testing.assert_allclose(dist, got, rtol=1e-5, atol=0)
    assert np.all(np.diff(dist, axis=1) >= 0)
    nearer = d < kth - tol  # every state clearly nearer than the k-th is among the returned
    assert all(set(np.flatnonzero(n) + first_id) <= set(row) for n, row in zip(nearer, ids.tolist(), strict=True))


@pytest.mark.numerics
def test_nearest_index_is_exact():
    rng = np.random.default_rng(0)
    z, q = rng.normal(size=(500, 16)).astype(np.float32), rng.normal(size=(7, 16)).astype(np.float32)
    ids, dist = NearestIndex(np.arange(500) + 100, z).search(q, k=4)
    assert_k_nearest(ids, dist, z, q, first_id=100)
    # a query equal to a remembered state: distance 0 exactly, whatever the norms (no GEMM cancellation)
    far = z * 1000
    ids, dist = NearestIndex(np.arange(500), far).search(far[[3, 77]], k=2)
    assert ids[:, 0].tolist() == [3, 77] and dist[:, 0].tolist() == [0.0, 0.0]
    assert_k_nearest(ids, dist, far, far[[3, 77]])


def test_lazy_route_avoids_a_refuted_shortcut():
    # states on a U: 0..9 along the bottom, 10..19 back along the top; 0 and 19 embed close (a wall between)
    pts = [(i, 0.0) for i in range(10)] + [(9 - i, 1.2) for i in range(10)]
    z = np.array(pts, np.float32)
    src, dst = np.arange(19), np.arange(1, 20)  # observed walk along the U
    graph = MemoryGraph(NearestIndex(np.arange(20), z), src, dst, GraphConfig(neighbours=3, near=1.3))
    assert graph.edges[1] > 0  # proximity edges exist, the 0 -> 19 shortcut among them
    asked = []

    def wall(a: np.ndarray, b: np.ndarray):
        asked.extend(zip(a.tolist(), b.tolist(), strict=True))
        ok = np.abs(z[a, 1] - z[b, 1]) < 0.5  # moving across the gap between the arms is impossible
        return ok, np.where(ok, 0.0, 9.0)

    path, made = graph.route(0, 19, wall)
    assert path == list(range(20))  # the long way round, every edge observed or confirmed
    assert (0, 19, False, 9.0) in made and (0, 19) in asked
    assert graph.shortest(0, 19) == list(range(20))  # the refutation is remembered


def test_navigator_drives_the_closed_loop(wm, built, tmp_path):
    from jepaworld.control import GoalEpisode
    from jepaworld.control import run_episodes as run_mpc

    path = tmp_path / "n.sqlite"
    path.write_bytes(built[0].read_bytes())
    nav = Navigator(wm, path, plan=CHEAP, cfg=QUICK)
    assert nav.threshold > 0 and len(nav.index) == built[1].states
    eps = [GoalEpisode(i, 0, 0, np.array([40.0 + 20 * i, 180.0], np.float32), np.array([180.0, 180.0], np.float32))
           for i in range(2)]  # fmt: skip
    results = run_mpc("tworoom", eps, 10, 16, nav)
    assert len(results) == 2 and all(r.steps > 0 for r in results)
    assert len(nav.reroutes()) == 2 and len(nav.plan_times) == 2  # one closed-loop plan per block
    assert nav.confirm_times  # calibration (and any edge checks) kept apart
    with pytest.raises(JepaworldError, match="retarget"):
        nav.mpc.retarget(nav.z_final[:1, :5])
    nav.close()
    with MemoryStore.open(path) as store:  # the threshold is cached per planner setting
        assert any(k.startswith("confirm_threshold") for k, in store.conn.execute("SELECT key FROM meta"))


def test_agents_go_to_named_goals(wm, built, tmp_path):
    from jepaworld.agent import Agent

    path = tmp_path / "go.sqlite"
    path.write_bytes(built[0].read_bytes())
    f, ids = training_episodes(wm.meta, "test")
    frame = np.asarray(f.pixels[int(f.ep_offset[ids[1]]) + 7])
    with MemoryStore.open(path) as store:
        add_goal(store, wm, "corner", frame)
    agent = Agent(wm, "planner", plan=CHEAP, memory=path)
    assert np.array_equal(agent.go("corner"), frame)
    assert agent.act(frame).shape == (wm.meta.frameskip, 2)
    with pytest.raises(JepaworldError, match="no goal named 'door'"):
        agent.go("door")
    nav = Navigator(wm, path, plan=CHEAP, cfg=QUICK)
    assert np.array_equal(nav.go("corner"), frame) and nav.act(frame).shape == (wm.meta.frameskip, 2)
    nav.close()
    with pytest.raises(JepaworldError, match="memory=FILE"):
        Agent(wm, "planner").go("corner")


def test_memory_cli(tiny_run, tmp_path):
    from PIL import Image
    from typer.testing import CliRunner

    from jepaworld.cli.main import app

    mem = str(tmp_path / "cli.sqlite")
    run = CliRunner().invoke
    r = run(app, ["memory", "build", tiny_run, "--out", mem, "--threads", "1"])
    assert r.exit_code == 0, r.output
    assert "states" in r.output and "episodes added" in r.output
    r = run(app, ["memory", "add-goal", mem, "g1", "--from-episode", "0", "--step", "5"])
    assert r.exit_code == 0, r.output
    png = tmp_path / "goal.png"
    Image.fromarray(np.full((32, 32, 3), 200, np.uint8)).save(png)  # another size: resized to the run's 16 px
    assert run(app, ["memory", "add-goal", mem, "g2", "--image", str(png)]).exit_code == 0
    r = run(app, ["memory", "info", mem])
    assert r.exit_code == 0 and "g1" in r.output and "g2" in r.output
    sheet = tmp_path / "sheet.png"
    r = run(app, ["memory", "query", mem, "--goal", "g1", "--k", "3", "--sheet", str(sheet)])
    assert r.exit_code == 0 and sheet.exists(), r.output
    r = run(app, ["memory", "query", mem, "--entity", "agent", "--at", "112,112", "--within", "60"])
    assert r.exit_code == 0 and "within 60 of (112,112)" in r.output and "5 shown" in r.output, r.output
    # bad inputs: one clear line, exit 2, nothing written
    for args, msg in [
        (["memory", "query", mem, "--entity", "agent", "--at", "x,y"], "expected numbers"),
        (["memory", "query", mem], "exactly one of"),
        (["memory", "add-goal", mem, "g1", "--from-episode", "0"], "already remembered"),
        (["memory", "add-goal", mem, "g3", "--image", str(tmp_path / "none.png")], "cannot read the image"),
        (["memory", "info", str(png)], "not a readable jepaworld memory"),
        (["eval", "--ckpt", tiny_run, "--memory", str(tmp_path / "nope.sqlite")], "no such file"),
    ]:
        r = run(app, args)
        assert r.exit_code == 2 and msg in r.output, (args, r.output)
