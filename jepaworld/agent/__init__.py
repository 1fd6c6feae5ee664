"""Two loops: a fast policy distilled from the latent planner, a surprise guard, and the agent that
switches between them (``jepaworld.Agent``, ``jepaworld distill RUN``)."""

from jepaworld.agent.agent import MODES, Agent, Decision, plan_model_calls
from jepaworld.agent.calibrate import calibrate_guard
from jepaworld.agent.distill import DistillConfig, DistillResult, distill
from jepaworld.agent.fit import FitSettings
from jepaworld.agent.guard import GuardConfig, load_guard, save_guard
from jepaworld.agent.policy import PolicyNet, load_policy, save_policy
from jepaworld.agent.run import run_agent, score_decisions

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
    "run_agent",
    "save_guard",
    "save_policy",
    "score_decisions",
]
