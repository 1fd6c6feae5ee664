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


def test_constants_match_the_reference_rule():
    assert (tr.LO, tr.HI) == (21.0, 203.0)
    assert (tr.BAND_LO, tr.BAND_HI) == (100.0, 124.0)
    assert (tr.DOOR_BAND_LO, tr.DOOR_BAND_HI) == (33.25, 64.75)
    assert (tr.STOP_LEFT, tr.STOP_RIGHT) == (99.5, 124.5)


def test_wall_blocks_outside_the_door_band():
    env = TwoRoomEnv(resolution=32)
    env.reset(seed=0, options={"state": [60.0, 150.0]})
    s = run(env, [1.0, 0.0], 40)
    assert s[0] == pytest.approx(tr.STOP_LEFT) and s[1] == pytest.approx(150.0)
    # diagonal motion keeps its y component: the agent slides along the wall
    s = run(env, [1.0, -1.0], 5)
    assert s[0] == pytest.approx(tr.STOP_LEFT) and s[1] == pytest.approx(125.0)
    env.reset(seed=0, options={"state": [170.0, 150.0]})
    s = run(env, [-1.0, 0.0], 40)
    assert s[0] == pytest.approx(tr.STOP_RIGHT) and s[1] == pytest.approx(150.0)
    # just outside the band (below its lower edge) is still wall
    env.reset(seed=0, options={"state": [60.0, 33.0]})
    s = run(env, [1.0, 0.0], 40)
    assert s[0] == pytest.approx(tr.STOP_LEFT) and s[1] == pytest.approx(33.0)


@pytest.mark.parametrize("y", [tr.DOOR_Y, 34.0, 64.0, tr.DOOR_BAND_LO, tr.DOOR_BAND_HI])
def test_door_band_lets_the_agent_through(y):
    # y = 34 or 64 was blocked by the old whole-disk-in-the-door rule (y in [42, 56])
    env = TwoRoomEnv(resolution=32)
    env.reset(options={"state": [60.0, y]})
    s = run(env, [1.0, 0.0], 30)
    assert s[0] > tr.BAND_HI and s[1] == pytest.approx(y)
    s = run(env, [-1.0, 0.0], 30)
    assert s[0] < tr.BAND_LO and s[1] == pytest.approx(y)


def test_only_the_destination_is_checked():
    # from the wall's face outside the band, a diagonal step whose destination is in the band is free,
    # though the path cuts the corner of the wall
    assert tr.move(99.5, 30.0, 5.0, 5.0) == (104.5, 35.0)
    assert tr.move(124.5, 68.0, -5.0, -5.0) == (119.5, 63.0)
    # a step whose destination leaves the band while inside the wall is pushed out on the side the
    # agent started from (x < 112: left), however far that is
    assert tr.move(104.5, 35.0, 0.0, -5.0) == (tr.STOP_LEFT, 30.0)
    assert tr.move(111.0, 62.0, 0.0, 5.0) == (tr.STOP_LEFT, 67.0)
    assert tr.move(112.0, 62.0, 0.0, 5.0) == (tr.STOP_RIGHT, 67.0)
    assert tr.move(119.5, 63.0, 0.0, 5.0) == (tr.STOP_RIGHT, 68.0)
    # no sub-stepping: the destination is where the agent ends, whatever lies between
    assert tr.move(98.0, 49.0, 5.0, 0.0) == (103.0, 49.0)


def test_border_clamps_the_centre():
    env = TwoRoomEnv(resolution=32)
    env.reset(options={"state": [30.0, 30.0]})
    s = run(env, [-1.0, -1.0], 20)
    np.testing.assert_allclose(s, [tr.LO, tr.LO])
    env.reset(options={"state": [180.0, 180.0]})
    s = run(env, [1.0, 1.0], 20)
    np.testing.assert_allclose(s, [tr.HI, tr.HI])
    # clamped first, then checked against the wall: up against the top border inside the door
    assert tr.move(110.0, 23.0, 0.0, -5.0) == (tr.STOP_LEFT, tr.LO)


def test_random_walks_never_end_inside_the_wall_outside_the_band():
    env = TwoRoomEnv(resolution=16)
    rng = np.random.default_rng(0)
    in_band = sides = 0
    for start in ([100.0, 49.0], [124.0, 40.0], [60.0, 150.0], [112.0, 34.0]):
        env.reset(seed=0, options={"state": start})
        xs = []
        for _ in range(1500):
            _, _, _, _, info = env.step(rng.uniform(-1, 1, 2))
            x, y = (float(v) for v in info["state"])
            assert tr.is_free(x, y)
            if tr.BAND_LO < x < tr.BAND_HI:
                assert tr.DOOR_BAND_LO <= y <= tr.DOOR_BAND_HI
                in_band += 1
            xs.append(x)
        sides += min(xs) < tr.BAND_LO and max(xs) > tr.BAND_HI
    assert in_band > 50 and sides >= 1  # the walks did go through the doorway


def test_every_step_from_a_valid_state_stays_valid():
    rng = np.random.default_rng(1)
    for _ in range(20000):
        x, y = rng.uniform(tr.LO, tr.HI, 2)
        if not tr.is_free(x, y):
            continue
        nx, ny = tr.move(x, y, *rng.uniform(-tr.SPEED, tr.SPEED, 2))
        assert tr.is_free(nx, ny), (x, y, nx, ny)


def test_state_round_trip_and_invalid_state():
    env = TwoRoomEnv()
    env.reset(seed=1)
    env.set_state([150.0, 100.0])
    np.testing.assert_array_equal(env.get_state(), np.float32([150.0, 100.0]))
    with pytest.raises(ValueError, match="overlaps a wall"):
        env.set_state([112.0, 150.0])
    env.set_state([112.0, 34.0])  # in the doorway, inside the band
    with pytest.raises(ValueError, match="door band"):
        env.set_state([112.0, 33.0])
    with pytest.raises(ValueError, match="overlaps a wall"):
        env.set_state([10.0, 100.0])


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
