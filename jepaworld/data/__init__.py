"""Episode files, resumable collection (``jepaworld.data.collect``), train/val split, normaliser,
window sampler."""

from jepaworld.data.episodes import DataError, EpisodeFile, check_compatible
from jepaworld.data.normalize import Normalizer, split_episodes


def __getattr__(name: str):
    # windows needs torch: load it on first use so collection workers stay light.
    if name == "WindowSampler":
        from jepaworld.data.windows import WindowSampler

        return WindowSampler
    raise AttributeError(name)


__all__ = ["DataError", "EpisodeFile", "Normalizer", "WindowSampler", "check_compatible", "split_episodes"]
