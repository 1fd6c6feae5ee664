"""Controllers and the one episode loop: the protocol every closed loop answers (``reset``, ``act``), the
goal-reaching episodes (their draw, mid-episode perturbations), the loop that runs any controller on them,
and the reactive baselines. Below ``plan/``, ``agent/``, ``memory/`` and ``eval/``, which all use it."""

from jepaworld.control.baselines import GoalPolicy, PolicyController, baseline_policies, baselines
from jepaworld.control.episodes import EpisodeDraw, GoalEpisode, StatePredicate, draw_episodes
from jepaworld.control.loop import EpisodeBatch, EpisodeResult, run_episodes
from jepaworld.control.perturb import Perturbation, make_perturbation, register_perturbation
from jepaworld.control.protocol import Controller, ReadsState

__all__ = [
    "Controller",
    "EpisodeBatch",
    "EpisodeDraw",
    "EpisodeResult",
    "GoalEpisode",
    "GoalPolicy",
    "Perturbation",
    "PolicyController",
    "ReadsState",
    "StatePredicate",
    "baseline_policies",
    "baselines",
    "draw_episodes",
    "make_perturbation",
    "register_perturbation",
    "run_episodes",
]
