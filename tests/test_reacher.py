import math

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from jepaworld.envs import reacher as rc
from jepaworld.envs.goal import missing_goal_methods
from jepaworld.envs.mujoco_gl import MujocoUnavailable, require_mujoco
from jepaworld.errors import JepaworldError

# Like pytest.importorskip("mujoco"), but without importing it first: MuJoCo fixes its GL backend when
# imported, so require_mujoco must choose it (EGL, else OSMesa) before. It skips with what to install:
# the extra (pip install -e '.[mujoco]') or, where no backend works, the EGL/OSMesa system packages.
try:
    require_mujoco("Reacher")
except MujocoUnavailable as e:
    pytest.skip(str(e), allow_module_level=True)


@pytest.fixture(scope="module")
def env():
    e = rc.ReacherEnv(resolution=24)
    yield e
    e.close()


def test_check_env_passes():
    env = gym.make("jepaworld/Reacher-v0", resolution=16)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


def test_frames_shapes_and_the_arm_is_drawn(env):
    obs, info = env.reset(seed=0)
    assert obs.shape == (24, 24, 3) and obs.dtype == np.uint8 and info["state"].shape == (4,)
    other = env.render_state([info["state"][0] + math.pi, -info["state"][1]])
    assert np.abs(obs.astype(int) - other.astype(int)).sum(-1).astype(bool).sum() >= 4  # the arm moved on screen
    big = rc.ReacherEnv(resolution=80)
    try:
        assert big.reset(seed=0)[0].shape == (80, 80, 3)
    finally:
        big.close()


def test_target_sphere_is_hidden(env):
    env.reset(seed=1)
    frame = env.render()
    target = env.model.geom("target").id
    pos = env.model.geom_pos[target].copy()
    try:
        env.model.geom_pos[target] = [0.15, -0.15, 0.01]  # in plain view, away from the arm's base
        env._mujoco.mj_forward(env.model, env.data)
        np.testing.assert_array_equal(env.render(), frame)
    finally:
        env.model.geom_pos[target] = pos
        env._mujoco.mj_forward(env.model, env.data)


def test_state_round_trip_wraps_the_shoulder(env):
    env.reset(seed=0)
    env.set_state([4.0, -1.0, 0.5, -0.25])
    np.testing.assert_allclose(env.get_state(), [4.0 - 2 * math.pi, -1.0, 0.5, -0.25], atol=1e-5)
    env.set_state([0.3, 0.2])  # no velocities: at rest
    np.testing.assert_allclose(env.get_state(), [0.3, 0.2, 0.0, 0.0], atol=1e-6)


def test_frame_follows_the_state_after_a_step(env):
    """After step() the frame shows the new joint angles (mj_step alone leaves bodies one step behind)."""
    env.reset(seed=2)
    env.set_state([0.0, 0.0])
    for _ in range(3):
        obs, *_ = env.step([1.0, -1.0])
    np.testing.assert_array_equal(obs, env.render_state(env.get_state()))


def test_set_state_is_history_free(env):
    runs = []
    for warmup in (0, 9):
        env.reset(seed=warmup)
        for _ in range(warmup):
            env.step(env.action_space.sample())
        env.set_state([1.0, -0.5, 0.0, 0.0])
        runs.append(np.stack([env.step([0.4, 0.7])[4]["state"] for _ in range(6)]))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_render_state_leaves_the_simulation_alone(env):
    env.reset(seed=3)
    env.step([0.5, 0.5])
    before, frame = env.get_state(), env.render()
    goal_frame = env.render_state([2.0, 1.0])
    np.testing.assert_array_equal(env.get_state(), before)
    np.testing.assert_array_equal(env.render(), frame)
    env.set_state([2.0, 1.0])
    np.testing.assert_array_equal(env.render(), goal_frame)


def test_success_is_every_joint_within_005_rad():
    goal = np.float32([math.pi - 0.01, 0.5, 0.0, 0.0])
    assert rc.is_success([-math.pi + 0.02, 0.52, 3.0, 3.0], goal)  # across the wrap; velocities ignored
    assert not rc.is_success([math.pi - 0.01, 0.56, 0.0, 0.0], goal)  # wrist 0.06 off
    assert not rc.is_success([math.pi - 0.07, 0.5, 0.0, 0.0], goal)
    assert rc.goal_distance([0.0, 0.0], [0.1, -0.3]) == pytest.approx(0.3)
    assert not missing_goal_methods(rc.ReacherEnv)


def test_reset_is_seeded_and_takes_options(env):
    a = env.reset(seed=5)[1]["state"]
    b = env.reset(seed=5)[1]["state"]
    np.testing.assert_array_equal(a, b)
    _, info = env.reset(options={"state": [0.1, 0.2], "goal": [0.12, 0.22]})
    np.testing.assert_allclose(info["state"], [0.1, 0.2, 0, 0], atol=1e-6)
    assert info["success"]


@pytest.mark.parametrize(
    "state, message",
    [([1.0], "2 or 4 finite numbers"), ([0.0, float("nan")], "finite"), ([0.0, 3.0], "beyond its limit")],
)
def test_bad_state_and_action_raise_clear_errors(env, state, message):
    with pytest.raises(JepaworldError, match=message):
        env.set_state(state)
    with pytest.raises(JepaworldError, match="2 finite torques"):
        env.step([0.0, 0.0, 0.0])


def test_expert_moves_the_arm_and_the_heuristic_reaches_its_goals(env):
    env.reset(seed=0)
    policy = rc.reacher_expert(env, np.random.default_rng(0), noise=0.3)
    obs, info = env.reset(seed=0)
    states = [info["state"]]
    for _ in range(120):
        obs, _, _, _, info = env.step(policy(obs, info["state"]))
        states.append(info["state"])
    states = np.stack(states)
    moves = [rc.goal_distance(states[t], states[t + 25]) for t in range(0, 95, 5)]
    assert np.median(moves) > 0.5 and np.abs(states[:, 1]).max() <= rc.WRIST_LIMIT + 0.02
    reached = 0
    for t in (0, 30, 60, 90):
        env.set_state(states[t])
        for _ in range(50):
            env.step(rc.heuristic(env.get_state(), states[t + 25]))
            if env.is_success(env.get_state(), states[t + 25]):
                reached += 1
                break
    assert reached == 4


def test_a_reused_env_gives_the_episodes_of_a_new_one(env):
    """collect and the eval's env pool run many episodes on one env: each must equal the same episode on a
    new env (frames and states bit for bit), whatever ran before it."""
    from jepaworld.data.collect import run_episode

    def episode(e, index):
        return run_episode(e, rc.reacher_expert, seed=5, index=index, max_steps=30, noise=0.3)

    episode(env, 0)  # something ran on it before
    fresh = rc.ReacherEnv(resolution=24)
    try:
        want = episode(fresh, 1)
    finally:
        fresh.close()
    got = episode(env, 1)
    for key in ("pixels", "state", "action"):
        np.testing.assert_array_equal(got[key], want[key], err_msg=key)
