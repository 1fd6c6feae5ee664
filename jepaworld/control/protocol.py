"""What a controller is: anything that turns frames into blocks of raw actions toward goal images.

    controller.reset(goal_frames)              # new episode(s): uint8 (B, H, W, 3) (or one (H, W, 3))
    block = controller.act(obs, active)        # frames now (B, H, W, 3) -> raw actions (B, frameskip, A)

The latent planner (``plan.LatentMPC``), the agent's modes (``agent.Agent``), the memory route
(``memory.Navigator``), a server session (``client.RemoteController``) and the baselines
(``control.baselines``) all answer it, and ``control.loop.run_episodes`` runs any of them.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Controller(Protocol):
    """``frameskip`` env steps per block; ``act`` is called once per block with the frames seen after the last.

    active (B,) bool: the environments still running (None: all). A controller may skip the others (the
    agent neither logs nor plans them) or act for every row alike (their actions are not executed).
    """

    @property
    def frameskip(self) -> int: ...

    def reset(self, goal_frames: np.ndarray) -> None: ...

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray: ...


@runtime_checkable
class ReadsState(Protocol):
    """A privileged controller (a baseline) that also reads the true states: the loop calls
    ``see_states(states, goals)`` with (B, S) arrays before every ``act``."""

    def see_states(self, states: np.ndarray, goals: np.ndarray) -> None: ...
