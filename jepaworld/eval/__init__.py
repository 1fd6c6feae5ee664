from jepaworld.eval.evaluate import evaluate, summarise
from jepaworld.eval.protocol import GoalEpisode, draw_episodes
from jepaworld.eval.stats import wilson_interval

__all__ = ["GoalEpisode", "draw_episodes", "evaluate", "summarise", "wilson_interval"]
