from jepaworld.control import EpisodeDraw, GoalEpisode, draw_episodes
from jepaworld.eval.evaluate import EvalResult, evaluate, summarise, write_eval
from jepaworld.eval.stats import wilson_interval

__all__ = [
    "EpisodeDraw",
    "EvalResult",
    "GoalEpisode",
    "draw_episodes",
    "evaluate",
    "summarise",
    "wilson_interval",
    "write_eval",
]
