"""Gymnasium environments with pixel observations, their scripted experts, and a registry."""

import gymnasium as gym

from jepaworld.envs.experts import TwoRoomExpert, heuristic, random_policy, route, tworoom_expert
from jepaworld.envs.registry import EnvSpec, UnknownEnvError, get_spec, make, names, state_layout
from jepaworld.envs.state import Quantity, StateLayout, Teleport
from jepaworld.envs.tworoom import TwoRoomEnv, cross_wall, is_success, same_room

if "jepaworld/TwoRoom-v0" not in gym.registry:
    gym.register(id="jepaworld/TwoRoom-v0", entry_point="jepaworld.envs.tworoom:TwoRoomEnv")
if "jepaworld/PushT-v0" not in gym.registry:  # pymunk is imported only when the env is built
    gym.register(id="jepaworld/PushT-v0", entry_point="jepaworld.envs.pusht:PushTEnv")
if "jepaworld/Reacher-v0" not in gym.registry:  # MuJoCo and dm_control are imported only when the env is built
    gym.register(id="jepaworld/Reacher-v0", entry_point="jepaworld.envs.reacher:ReacherEnv")
if "jepaworld/Cube-v0" not in gym.registry:  # OGBench's cube-single: needs the mujoco extra too
    gym.register(id="jepaworld/Cube-v0", entry_point="jepaworld.envs.cube:CubeEnv")

__all__ = [
    "EnvSpec",
    "Quantity",
    "StateLayout",
    "Teleport",
    "TwoRoomEnv",
    "TwoRoomExpert",
    "UnknownEnvError",
    "cross_wall",
    "get_spec",
    "heuristic",
    "is_success",
    "make",
    "names",
    "random_policy",
    "route",
    "same_room",
    "state_layout",
    "tworoom_expert",
]
