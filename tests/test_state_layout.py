"""Each env's StateLayout, declared once, is what probes, structure, memory and perturbations read."""

import numpy as np

from jepaworld.control import make_perturbation
from jepaworld.envs import reacher as rc
from jepaworld.envs import state_layout
from jepaworld.memory.entities import StateDecoder, env_entities
from jepaworld.science.perturb import teleported_part
from jepaworld.science.probes import probe_targets
from jepaworld.science.structure import state_columns


def test_every_builtin_env_declares_its_state_and_the_readers_agree():
    for env, dim in (("tworoom", 2), ("pusht", 7), ("reacher", 4), ("cube", 55)):
        layout = state_layout(env)
        assert layout is not None and layout.entities == dict(layout.entities)
        state = np.random.default_rng(0).uniform(-1, 1, (20, dim))
        assert list(probe_targets(env, state).quantities) == [q.name for q in layout.quantities]
        assert list(env_entities(env, dim)) == list(layout.entities)
        assert sum(state_columns(env, state).cyclic) == len(layout.angle_columns)
    assert state_layout("gymnasium:X") is None and teleported_part("gymnasium:X") == ("state", [], [])


def test_reacher_gets_memory_entities_an_angle_decoder_and_a_teleport():
    assert env_entities("reacher", 4) == {"arm": ([0, 1], ["shoulder", "wrist"])}
    rng = np.random.default_rng(0)
    state = np.column_stack([rng.uniform(-np.pi, np.pi, 200), rng.uniform(-2, 2, 200), np.zeros((200, 2))])
    z = np.column_stack([np.sin(state[:, 0]), np.cos(state[:, 0]), state[:, 1]])
    decoder = StateDecoder.fit(z, state, "reacher")
    assert decoder.angles == [0, 1]
    assert np.abs(rc.joint_error(decoder.decode(z), state)[:, 0]).max() < 0.05  # the shoulder does not wrap
    p = make_perturbation("reacher", "teleport", step=3, seed=0)
    jumped = p.fn(state[0].astype(np.float32), np.random.default_rng(1))
    assert jumped.shape == (4,) and abs(jumped[1]) <= rc.WRIST_LIMIT and not np.allclose(jumped[:2], state[0, :2])


def test_cube_memory_tracks_effector_gripper_and_cube():
    assert list(env_entities("cube", 55)) == ["effector", "gripper", "cube"]
