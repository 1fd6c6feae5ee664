"""Two loops: a fast policy distilled from the latent planner, a surprise guard, and the agent that
switches between them (``jepaworld.Agent``, ``jepaworld distill RUN``)."""

from jepaworld.agent.agent import MODES, Agent, Decision, plan_model_calls
from jepaworld.agent.distill import DistillConfig, DistillResult, distill
from jepaworld.agent.fit import FitSettings
from jepaworld.agent.guard import GuardConfig, calibrate_guard, load_guard, save_guard
from jepaworld.agent.policy import PolicyNet, load_policy, save_policy

__all__ = [
    "MODES",
    "Agent",
    "Decision",
    "DistillConfig",
    "DistillResult",
    "FitSettings",
    "GuardConfig",
    "PolicyNet",
    "calibrate_guard",
    "distill",
    "load_guard",
    "load_policy",
    "plan_model_calls",
    "save_guard",
    "save_policy",
]
