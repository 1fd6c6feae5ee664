import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from jepaworld.envs import cube as cb
from jepaworld.envs.goal import missing_goal_methods
from jepaworld.envs.mujoco_gl import MujocoUnavailable, require_mujoco
from jepaworld.errors import JepaworldError

# Like pytest.importorskip, without importing MuJoCo before its GL backend is chosen (tests/test_reacher.py).
try:
    require_mujoco("Cube", cb.PACKAGES)
except MujocoUnavailable as e:
    pytest.skip(str(e), allow_module_level=True)

RES = 16  # OGBench's scene costs ~100 ms a frame on a CPU at any size: few frames, small ones


@pytest.fixture(scope="module")
def env():
    e = cb.CubeEnv(resolution=RES)
    yield e
    e.close()


@pytest.fixture(scope="module")
def trajectory(env):
    """40 expert steps from a seeded start: states (41, STATE_DIM)."""
    obs, info = env.reset(seed=3)
    policy = cb.cube_expert(env, np.random.default_rng(0), noise=0.1)
    states = [info["state"]]
    for _ in range(40):
        obs, _, _, _, info = env.step(policy(obs, info["state"]))
        states.append(info["state"])
    return np.stack(states)


def test_check_env_passes():
    env = gym.make("jepaworld/Cube-v0", resolution=RES)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


def test_state_layout_and_frames(env):
    obs, info = env.reset(seed=0)
    s = info["state"]
    assert obs.shape == (RES, RES, 3) and obs.dtype == np.uint8 and s.shape == (cb.STATE_DIM,)
    np.testing.assert_allclose(cb.cube_position(s), s[cb.QPOS + 14 : cb.QPOS + 17], atol=1e-6)  # cube's free joint
    assert s[cb.CUBE + 2] == pytest.approx(0.02, abs=0.005)  # resting on the table
    assert 0.25 - 0.01 <= s[cb.EFFECTOR] <= 0.6 + 0.01 and s[cb.EFFECTOR + 2] > 0.1  # OGBench's arm bounds
    assert not missing_goal_methods(cb.CubeEnv)


def test_expert_picks_the_cube_up(trajectory):
    assert trajectory[:, cb.CUBE + 2].max() > 0.05  # lifted off the table
    assert np.abs(trajectory[:, cb.OPENING]).max() > 0.0


def test_set_state_restores_the_scene(env, trajectory):
    env.reset(seed=9)
    env.set_state(trajectory[30])
    np.testing.assert_allclose(env.get_state()[cb.QPOS :], trajectory[30][cb.QPOS :], atol=1e-6)
    np.testing.assert_allclose(cb.cube_position(env.get_state()), cb.cube_position(trajectory[30]), atol=1e-6)
    frame = env.render()
    env.reset(seed=10)
    np.testing.assert_array_equal(env.render_state(trajectory[30]), frame)


def test_render_state_leaves_the_simulation_alone(env, trajectory):
    env.reset(seed=4)
    env.step([0.5, 0.0, 0.0, 0.0, 0.0])
    before, frame = env.get_state(), env.render()
    env.render_state(trajectory[20])
    np.testing.assert_array_equal(env.get_state(), before)
    np.testing.assert_array_equal(env.render(), frame)


def test_state_after_a_step_is_settled(env):
    """After step() the effector's position is that of the new joint angles (mj_step alone leaves it one
    physics step behind), so placing the env in its own state changes nothing."""
    env.reset(seed=5)
    env.step([1.0, 0.0, -1.0, 0.0, 0.0])
    s = env.get_state()
    env.set_state(s)
    np.testing.assert_allclose(env.get_state()[: cb.QPOS], s[: cb.QPOS], atol=2e-5)


def test_success_is_the_cube_within_4_cm():
    s, g = np.zeros(cb.STATE_DIM), np.zeros(cb.STATE_DIM)
    g[cb.CUBE : cb.CUBE + 3] = [0.03, 0.0, 0.02]
    assert cb.is_success(s, g) and cb.goal_distance(s, g) == pytest.approx(np.hypot(0.03, 0.02))
    g[cb.CUBE + 1] = 0.03
    assert not cb.is_success(s, g)


def test_heuristic_carries_the_cube_to_a_goal(env, trajectory):
    """OGBench's oracle on the true state reaches a goal the expert reached 25 steps later."""
    t = int(np.argmax([cb.goal_distance(trajectory[i], trajectory[i + 25]) for i in range(15)]))
    start, goal = trajectory[t], trajectory[t + 25]
    assert not cb.is_success(start, goal)
    env.reset(seed=0)
    env.set_state(start)
    reached = False
    for _ in range(50):
        env.step(cb.heuristic(env.get_state(), goal))
        if env.is_success(env.get_state(), goal):
            reached = True
            break
    assert reached


def test_bad_state_and_action_raise_clear_errors(env):
    with pytest.raises(JepaworldError, match=f"{cb.STATE_DIM} finite numbers"):
        env.set_state(np.zeros(7))
    with pytest.raises(JepaworldError, match="5 finite numbers"):
        env.step([0.0, 0.0])


def _box_mesh_xml() -> str:
    """Two copies of a 10.5-cm box mesh 1 mm apart (24 faces): one visual-only geom, one colliding."""
    corners = [(x, y, z) for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)]
    verts = [c * a for a in (0.0525, 0.0535) for corner in corners for c in corner]
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    tris = [t for a, b, c, d in quads for t in ((a, b, c), (a, c, d))]
    faces = [i + k for k in (0, 8) for tri in tris for i in tri]
    mesh = 'vertex="{}" face="{}"'.format(" ".join(map(str, verts)), " ".join(map(str, faces)))
    return (
        f'<mujoco><asset><mesh name="vis" {mesh}/><mesh name="col" {mesh}/></asset><worldbody>'
        '<geom type="mesh" mesh="vis" contype="0" conaffinity="0"/><geom type="mesh" mesh="col" pos="1 0 0"/>'
        "</worldbody></mujoco>"
    )


def test_coarsen_meshes_merges_close_vertices_and_spares_colliding_meshes():
    import mujoco

    model = mujoco.MjModel.from_xml_string(_box_mesh_xml())
    vis, col = model.mesh("vis").id, model.mesh("col").id
    assert model.mesh_facenum[vis] == 24
    col_faces = model.mesh_face[model.mesh_faceadr[col] : model.mesh_faceadr[col] + 24].copy()
    assert cb.coarsen_meshes(model, 0.01) == (12, 24)  # the two boxes fall on the same 1-cm cells
    faces = model.mesh_face[model.mesh_faceadr[vis] : model.mesh_faceadr[vis] + 24]
    assert len({tuple(sorted(f)) for f in faces[:12]}) == 12
    assert all(len(set(f)) == 1 for f in faces[12:])  # the rest degenerate: nothing drawn
    np.testing.assert_array_equal(model.mesh_face[model.mesh_faceadr[col] : model.mesh_faceadr[col] + 24], col_faces)


def test_coarsened_meshes_hand_only_their_kept_faces_to_the_renderer():
    import mujoco

    model = mujoco.MjModel.from_xml_string(_box_mesh_xml())
    vis, col = model.mesh("vis").id, model.mesh("col").id
    cb.coarsen_meshes(model, 0.01)
    assert model.mesh_facenum[vis] == 12 and model.mesh_facenum[col] == 24  # degenerate faces not even uploaded


def test_a_reused_env_gives_the_episodes_of_a_new_one(env, trajectory):
    """collect and the eval's env pool run many episodes on one env: each must equal the same episode on a
    new env (frames and states bit for bit), whatever ran before it (here: the trajectory fixture)."""
    from jepaworld.data.collect import run_episode

    fresh = cb.CubeEnv(resolution=RES)
    try:
        want = run_episode(fresh, cb.cube_expert, seed=5, index=1, max_steps=8, noise=0.1)
    finally:
        fresh.close()
    got = run_episode(env, cb.cube_expert, seed=5, index=1, max_steps=8, noise=0.1)
    for key in ("pixels", "state", "action"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)


def test_coarsened_meshes_leave_the_dynamics_alone(env, trajectory):
    """The gripper's visual meshes are also its collision meshes: coarsening their faces must not move a
    thing (collisions read vertices and the compiled convex hull), through a grasp."""
    from jepaworld.data.collect import run_episode

    exact = cb.CubeEnv(resolution=RES, mesh_cell=0.0)
    try:
        want = run_episode(exact, cb.cube_expert, seed=0, index=3, max_steps=40, noise=0.1)["state"]
    finally:
        exact.close()
    assert want[:, cb.CUBE + 2].max() > 0.05  # the gripper closed on the cube and lifted it
    got = run_episode(env, cb.cube_expert, seed=0, index=3, max_steps=40, noise=0.1)["state"]
    np.testing.assert_array_equal(got, want)
