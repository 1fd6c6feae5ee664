import gymnasium as gym
import numpy as np
import pytest

from jepaworld.envs import (
    TwoRoomEnv,
    cross_wall,
    get_spec,
    heuristic,
    is_success,
    make,
    same_room,
    tworoom_expert,
)
from jepaworld.envs import tworoom as tr


def run(env, action, steps):
    for _ in range(steps):
        _, _, _, _, info = env.step(np.asarray(action, np.float32))
    return info["state"]


def test_wall_blocks_outside_the_door():
    env = TwoRoomEnv(resolution=32)
    env.reset(seed=0, options={"state": [60.0, 150.0]})
    s = run(env, [1.0, 0.0], 40)
    assert s[0] == pytest.approx(tr.BAND_LO) and s[1] == pytest.approx(150.0)
    # diagonal motion slides along the wall instead of sticking
    s = run(env, [1.0, -1.0], 5)
    assert s[0] == pytest.approx(tr.BAND_LO) and s[1] < 150.0


def test_no_crossing_anywhere_except_door():
    env = TwoRoomEnv(resolution=32)
    rng = np.random.default_rng(0)
    env.reset(seed=0)
    for _ in range(3000):
        _, _, _, _, info = env.step(rng.uniform(-1, 1, 2))
        x, y = info["state"]
        assert tr.is_free(float(x), float(y))


def test_door_lets_the_agent_through():
    env = TwoRoomEnv(resolution=32)
    env.reset(options={"state": [60.0, tr.DOOR_Y]})
    s = run(env, [1.0, 0.0], 30)
    assert s[0] > tr.BAND_HI and s[1] == pytest.approx(tr.DOOR_Y)


def test_border_keeps_radius():
    env = TwoRoomEnv(resolution=32)
    env.reset(options={"state": [30.0, 30.0]})
    s = run(env, [-1.0, -1.0], 20)
    np.testing.assert_allclose(s, [tr.LO, tr.LO])


def test_state_round_trip_and_invalid_state():
    env = TwoRoomEnv()
    env.reset(seed=1)
    env.set_state([150.0, 100.0])
    np.testing.assert_array_equal(env.get_state(), np.float32([150.0, 100.0]))
    with pytest.raises(ValueError, match="overlaps a wall"):
        env.set_state([112.0, 150.0])


@pytest.mark.parametrize("res", [32, 64])
def test_render_shape_and_goal_image(res):
    env = make("tworoom", resolution=res)
    obs, info = env.reset(seed=3)
    assert obs.shape == (res, res, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    np.testing.assert_array_equal(env.render_state(info["state"]), obs)
    assert not np.array_equal(env.render_state([30.0, 30.0]), env.render_state([180.0, 180.0]))


def test_reset_options_and_seeding():
    env = make("tworoom")
    _, info = env.reset(options={"state": [50.0, 60.0], "goal": [60.0, 60.0]})
    assert info["success"] and is_success(info["state"], info["goal"])
    a = make("tworoom").reset(seed=7)[1]["state"]
    b = make("tworoom").reset(seed=7)[1]["state"]
    np.testing.assert_array_equal(a, b)


def test_gym_registration():
    env = gym.make("jepaworld/TwoRoom-v0", resolution=16)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16, 16, 3)


def test_room_helpers_and_heuristic():
    assert same_room(np.array([50, 50]), np.array([90, 190]))
    assert cross_wall(np.array([50, 50]), np.array([150, 50]))
    a = heuristic(np.array([50.0, 50.0]), np.array([150.0, 60.0]))
    assert a.dtype == np.float32 and a[0] == 1.0 and 0 < a[1] < 1
    np.testing.assert_allclose(heuristic(np.array([50.0, 50.0]), np.array([52.0, 50.0])), [0.4, 0.0])
    assert get_spec("tworoom").heuristic is heuristic


def test_expert_reaches_targets_across_rooms():
    env = TwoRoomEnv(resolution=16)
    hits = 0
    for i in range(10):
        obs, info = env.reset(seed=i, options={"state": [40.0, 180.0]})
        expert = tworoom_expert(env, np.random.default_rng(i), noise=0.3)
        target = np.array([185.0, 180.0], np.float32)
        expert.go_to(info["state"], target)
        for _ in range(150):
            obs, _, _, _, info = env.step(expert(obs, info["state"]))
            if is_success(info["state"], target):
                hits += 1
                break
    assert hits >= 8


def test_expert_picks_its_own_targets():
    env = TwoRoomEnv(resolution=16)
    obs, info = env.reset(seed=0)
    expert = tworoom_expert(env, np.random.default_rng(0), noise=0.3)
    xs = []
    for _ in range(400):
        obs, _, _, _, info = env.step(expert(obs, info["state"]))
        xs.append(info["state"][0])
    assert min(xs) < tr.BAND_LO and max(xs) > tr.BAND_HI  # visits both rooms
