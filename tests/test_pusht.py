import math

import numpy as np
import pytest

pytest.importorskip("pymunk", reason="Push-T needs pymunk: install it with pip install -e '.[pusht]'")

import gymnasium as gym  # noqa: E402
from gymnasium.utils.env_checker import check_env  # noqa: E402

from jepaworld.envs import pusht as pt  # noqa: E402
from jepaworld.envs.goal import missing_goal_methods  # noqa: E402
from jepaworld.envs.pusht_expert import pusht_expert  # noqa: E402
from jepaworld.errors import JepaworldError  # noqa: E402

GOAL = np.array([256.0, 400.0, 256.0, 256.0, math.pi / 4, 0.0, 0.0], np.float32)


def moved(before: np.ndarray, after: np.ndarray) -> bool:
    """The block moved more than 0.5 px or turned more than 0.01 rad."""
    step = np.hypot(*(after[2:4] - before[2:4]))
    return bool(step > 0.5 or abs(pt.wrap_angle(float(after[4] - before[4]))) > 0.01)


def test_check_env_passes():
    check_env(gym.make("jepaworld/PushT-v0", resolution=32).unwrapped, skip_render_check=False)


def test_gym_registration():
    env = gym.make("jepaworld/PushT-v0", resolution=16)
    obs, info = env.reset(seed=0)
    assert obs.shape == (16, 16, 3) and info["state"].shape == (7,)


def test_state_round_trip_and_defaults():
    env = pt.PushTEnv(resolution=16)
    env.reset(seed=0)
    s = np.float32([100.0, 120.0, 300.0, 310.0, 1.0, 5.0, -7.0])
    env.set_state(s)
    np.testing.assert_allclose(env.get_state(), s, atol=1e-4)
    env.set_state(s[:5])  # no velocity: at rest
    np.testing.assert_allclose(env.get_state(), [*s[:5], 0.0, 0.0], atol=1e-4)
    env.set_state([100.0, 120.0, 300.0, 310.0, -1.0])  # angles come back wrapped to [0, 2 pi)
    assert env.get_state()[4] == pytest.approx(2 * math.pi - 1.0, abs=1e-5)


def test_set_state_is_history_free():
    """The future depends on the state only: same state, same actions, same trajectory."""
    env = pt.PushTEnv(resolution=16)
    start = np.float32([200.0, 270.0, 256.0, 256.0, 0.3])
    runs = []
    for warmup in (0, 7):
        env.reset(seed=warmup)
        for _ in range(warmup):
            env.step(env.action_space.sample())
        env.set_state(start)
        runs.append(np.stack([env.step([0.6, 0.1])[4]["state"] for _ in range(5)]))
    np.testing.assert_array_equal(runs[0], runs[1])


def test_render_state_leaves_the_simulation_alone():
    env = pt.PushTEnv(resolution=32)
    obs, info = env.reset(seed=1)
    before = env.get_state()
    goal_image = env.render_state(GOAL)
    np.testing.assert_array_equal(env.get_state(), before)
    np.testing.assert_array_equal(env.render(), obs)
    assert not np.array_equal(goal_image, obs)
    np.testing.assert_array_equal(env.render_state(info["state"]), obs)


@pytest.mark.parametrize("res", [64, 96])
def test_render_shapes_and_colours(res):
    env = pt.PushTEnv(resolution=res)
    obs, _ = env.reset(seed=2)
    assert obs.shape == (res, res, 3) and obs.dtype == np.uint8
    assert env.observation_space.contains(obs)
    # Anti-aliased coverage (blend weight of each colour, summed) matches each shape's area.
    background = pt.BACKGROUND[0]
    block_only = env.render_state([40.0, 40.0, *GOAL[2:5]]).astype(np.float32)
    block_only[: res // 8, : res // 8] = background  # blank the agent's corner
    block = ((background - block_only[..., 0]) / (background - pt.BLOCK_COLOUR[0])).sum() / res**2
    rows = slice(int(380 / pt.CANVAS * res), int(460 / pt.CANVAS * res))  # the agent; the T is above
    agent_only = env.render_state([256.0, 420.0, 256.0, 100.0, 0.0]).astype(np.float32)[rows]
    agent = ((background - agent_only[..., 0]) / (background - pt.AGENT_COLOUR[0])).sum() / res**2
    assert block == pytest.approx(pt.T_AREA / pt.CANVAS**2, rel=0.05)
    assert agent == pytest.approx(math.pi * pt.AGENT_RADIUS**2 / pt.CANVAS**2, rel=0.1)


def test_pushing_moves_the_block():
    env = pt.PushTEnv(resolution=16)
    env.reset(options={"state": [150.0, 270.0, 256.0, 256.0, 0.0]})  # agent level with the bar, left
    for _ in range(6):
        _, _, terminated, truncated, info = env.step([1.0, 0.0])
        assert not terminated and not truncated
    s = info["state"]
    assert s[2] > 300.0  # pushed right (and turned: the push is off the centre of gravity)
    assert np.hypot(*(s[:2] - s[2:4])) > pt.AGENT_RADIUS  # the agent pushed, it did not pass through


def test_agent_stays_in_the_arena_and_the_block_too():
    env = pt.PushTEnv(resolution=16)
    env.reset(options={"state": [40.0, 40.0, 300.0, 300.0, 0.0]})
    for _ in range(10):
        s = env.step([-1.0, -1.0])[4]["state"]
    assert np.all(s[:2] >= pt.AGENT_LO) and np.all(s[:2] < pt.AGENT_LO + 0.1)
    rng = np.random.default_rng(0)
    env.reset(seed=3, options={"state": [60.0, 200.0, 10.0, 250.0, -math.pi / 2]})  # bar along the left wall
    for _ in range(300):
        s = env.step(rng.uniform(-1, 1, 2))[4]["state"]
        assert pt.AGENT_LO <= s[:2].min() and s[:2].max() <= pt.AGENT_HI
        env.set_state(s)  # every state the env produces is a valid state
        assert pt.wall_penetration(*map(float, s[2:5])) <= pt.SQUEEZE_PX + 0.1


def test_pressing_the_block_into_a_wall_stops_the_agent():
    env = pt.PushTEnv(resolution=16)
    # the bar's outer edge 1 px from the left wall's face, the stem pointing right (its end at x =
    # 128), the agent beyond the stem's end pushing left
    env.reset(options={"state": [150.0, 256.0, 8.0, 256.0, -math.pi / 2]})
    for _ in range(10):
        s = env.step([-1.0, 0.0])[4]["state"]
    assert pt.wall_penetration(*map(float, s[2:5])) <= pt.SQUEEZE_PX
    assert pt.t_distance(s[None, :2], s[2:5])[0] > pt.AGENT_RADIUS - pt.OVERLAP_PX - 0.5
    assert s[0] < 150.0 - 5.0 and np.hypot(*s[5:]) < 1e-6  # it moved up to the block, then stopped


def test_success_distance_and_coverage():
    assert pt.is_success(GOAL, GOAL) and pt.goal_distance(GOAL, GOAL) == 0.0
    shifted = GOAL.copy()
    shifted[2] += 30.0
    assert not pt.is_success(shifted, GOAL) and pt.goal_distance(shifted, GOAL) == pytest.approx(30.0)
    turned = GOAL.copy()
    turned[4] += math.radians(30.0)
    assert not pt.is_success(turned, GOAL)
    wrapped = GOAL.copy()
    wrapped[4] += 2 * math.pi - math.radians(5.0)  # 5 degrees the other way
    assert pt.is_success(wrapped, GOAL)
    assert pt.coverage(GOAL, GOAL) == pytest.approx(1.0)
    upright = np.float32([0.0, 0.0, 256.0, 256.0, 0.0])  # 30 px along x: the bar loses 30 x 30 per end
    moved_x = upright + np.float32([0.0, 0.0, 30.0, 0.0, 0.0])
    assert pt.coverage(moved_x, upright) == pytest.approx(1.0 - (30 * 30 + 30 * 90) / pt.T_AREA)
    far = GOAL.copy()
    far[2:4] = [100.0, 420.0]
    assert pt.coverage(far, GOAL) == 0.0
    assert pt.coverage(turned, GOAL) < 0.8


def test_goal_capability_methods():
    env = pt.PushTEnv(resolution=16)
    assert missing_goal_methods(env) == []
    shifted = GOAL.copy()
    shifted[:2] += 3.0
    assert env.is_success(shifted, GOAL) and env.goal_distance(shifted, GOAL) == pytest.approx(math.sqrt(18.0))


def test_info_every_step():
    env = pt.PushTEnv(resolution=16)
    _, info = env.reset(seed=4, options={"goal": GOAL[:5]})
    _, reward, terminated, truncated, info = env.step([0.0, 0.0])
    assert set(info) >= {"state", "goal", "success", "coverage"}
    assert info["state"].dtype == np.float32 and info["state"].shape == (7,)
    np.testing.assert_array_equal(info["goal"], GOAL)
    assert 0.0 <= info["coverage"] <= 1.0 and not terminated and not truncated
    _, info = env.reset(options={"state": GOAL, "goal": GOAL})
    assert info["success"] and info["coverage"] == pytest.approx(1.0)


def test_reset_is_seeded_and_starts_are_clear():
    a = pt.PushTEnv(resolution=16).reset(seed=7)[1]["state"]
    b = pt.PushTEnv(resolution=16).reset(seed=7)[1]["state"]
    np.testing.assert_array_equal(a, b)
    rng = np.random.default_rng(0)
    for _ in range(50):
        s = pt.sample_state(rng)
        assert pt.t_distance(s[None, :2], s[2:5])[0] > pt.AGENT_RADIUS
        assert pt.wall_penetration(*map(float, s[2:5])) < 0.0


@pytest.mark.parametrize(
    "state, message",
    [
        ([1.0, 2.0, 3.0], "5 or 7 finite numbers"),
        ([100.0, np.nan, 200.0, 200.0, 0.0], "5 or 7 finite numbers"),
        ([100.0, 100.0, 600.0, 200.0, 0.0], r"inside the walls, in \[5.0, 506.0\]"),
        ([-3.0, 100.0, 200.0, 200.0, 0.0], r"inside the walls, in \[5.0, 506.0\]"),
        ([100.0, 100.0, 40.0, 200.0, 0.0], r"reaches 27.0 px past a wall's inner face \(7.0 and 504.0\)"),
    ],
)
def test_bad_state_raises_a_clear_error(state, message):
    env = pt.PushTEnv(resolution=16)
    with pytest.raises(JepaworldError, match=message):
        env.set_state(state)
    with pytest.raises(JepaworldError, match=message):
        env.reset(options={"goal": state})


def test_expert_moves_the_block_in_most_episodes():
    """Measured over seeds 0-4 / 100-104 / 200-204 / 300-304: 0.41-0.44 of steps move the block."""
    env = pt.PushTEnv(resolution=16)
    fractions = []
    for ep in range(5):
        obs, info = env.reset(seed=ep)
        policy = pusht_expert(env, np.random.default_rng(ep), 0.3)
        count = 0
        for _ in range(100):
            action = policy(obs, info["state"])
            assert action.shape == (2,) and action.dtype == np.float32 and np.abs(action).max() <= 1.0
            before = info["state"]
            obs, _, _, _, info = env.step(action)
            count += moved(before, info["state"])
        fractions.append(count / 100)
    assert np.mean(fractions) >= 1 / 3 and min(fractions) > 0.15


def test_agent_to_goal_baseline_reaches_the_goal_agent_position():
    from jepaworld.envs.pusht_expert import agent_to_goal

    env = pt.PushTEnv(resolution=16)
    env.reset(seed=0)
    state = env.get_state()
    goal = state.copy()
    goal[:2] = [400.0, 100.0] if state[0] < 256 else [100.0, 100.0]
    for _ in range(30):
        env.step(agent_to_goal(env.get_state(), goal))
    # the block may stand in the way; the agent must at least get much closer
    assert np.linalg.norm(env.get_state()[:2] - goal[:2]) < 0.5 * np.linalg.norm(state[:2] - goal[:2])


def test_the_agent_never_passes_through_the_block():
    """Driving the agent at the block from every side at full speed: the disk may press into the T by a
    few px (soft contacts), its centre never gets near the inside."""
    env = pt.PushTEnv(resolution=16)
    rng = np.random.default_rng(1)
    for side in range(8):
        angle = side * math.pi / 4
        start = [256 + 140 * math.cos(angle), 256 + 140 * math.sin(angle), 256.0, 256.0, float(rng.uniform(0, 6.28))]
        env.reset(options={"state": start})
        for _ in range(15):
            s = env.step(np.clip((env.get_state()[2:4] - env.get_state()[:2]) / 50.0, -1, 1))[4]["state"]
            assert pt.t_distance(s[None, :2], s[2:5])[0] > pt.AGENT_RADIUS / 2
