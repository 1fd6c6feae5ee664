"""``go_to``'s closed loop on one live env: an agent (or the memory navigator) acts block by block until the
goal's success test passes or the step budget is spent."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jepaworld.envs.goal import goal_provider


@dataclass
class Pursuit:
    reached: bool | None  # None: no success test
    steps: int
    plans: int  # decisions that planned
    replans_on_surprise: int  # guarded agent: plans the surprise guard triggered
    surprises: int  # decisions whose frame's surprise exceeded the threshold (0 when not measured)
    frames: list[np.ndarray]  # the frame at the start and after every block


def pursue(env: Any, obs: np.ndarray, controller: Any, goal_image: np.ndarray, frameskip: int, max_steps: int,
           judge: Callable[[np.ndarray], bool] | None, threshold: float | None = None) -> Pursuit:  # fmt: skip
    """controller: a ``jepaworld.Agent`` or a ``jepaworld.memory.Navigator`` (``reset(goal)``, ``act(obs)``)."""
    state = goal_provider(env).get_state
    controller.reset(goal_image)
    frames, used = [obs], 0
    reached = None if judge is None else judge(state())
    while used < max_steps and not reached:
        block = controller.act(obs)
        for k in range(min(frameskip, max_steps - used)):
            obs, *_ = env.step(block[k])
            obs = np.asarray(obs, np.uint8)
            used += 1
            if judge is not None and judge(state()):
                reached = True
                break
        frames.append(obs)
    log = getattr(controller, "log", None)
    if log is None:  # the navigator: latent MPC, no surprise measured
        return Pursuit(reached, used, int(controller.mpc.plans), 0, 0, frames)
    over = sum(d.surprise > threshold for d in log) if threshold is not None else 0
    return Pursuit(reached, used, sum(d.planned for d in log), sum(d.reason == "surprise" for d in log), int(over),
                   frames)  # fmt: skip
