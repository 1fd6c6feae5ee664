import pytest

from jepaworld.envs import pool
from jepaworld.envs.mujoco_gl import MujocoUnavailable, require_mujoco


def test_envs_that_do_not_declare_themselves_reusable_are_built_each_time_and_closed():
    first = pool.take("tworoom", 16)
    assert not pool.reusable(first)
    pool.give(first)
    second = pool.take("tworoom", 16)
    assert second is not first
    pool.give(second)


def test_reusable_envs_are_lent_again_per_name_and_resolution():
    try:
        require_mujoco("Reacher")
    except MujocoUnavailable as e:
        pytest.skip(str(e))
    a, b = pool.take("reacher", 16), pool.take("reacher", 16)
    assert a is not b and pool.reusable(a)
    pool.give(a)
    other = pool.take("reacher", 24)
    assert other is not a  # another resolution: another env
    again = pool.take("reacher", 16)
    assert again is a
    for env in (again, b, other):
        pool.give(env)
    pool.clear()
    new = pool.take("reacher", 16)
    assert new is not a and new is not b
    pool.give(new)
    pool.clear()
