"""Training settings for recorded episodes: the env name from the file, frame-skip and history from its fps.

The presets are tuned on simulators stepped at 10 Hz (Push-T's control rate): ``frameskip`` 5 means an
action block of 0.5 s. A dataset recorded at another rate keeps the block's duration, so the model
sees the same span of time between two frames: ``frameskip = round(preset frameskip * fps / 10)``
(at least 1). ``history`` counts blocks, so its span in seconds is kept with it; it is lowered only
when the shortest episode cannot hold one training window (``(history + pred) * frameskip + 1``
frames), and then frame-skip too if history 1 does not fit either.
"""

from __future__ import annotations

from pathlib import Path

from jepaworld.config import Config

PRESET_FPS = 10.0  # control rate the presets' frameskip was tuned at


def timing_for(fps: float, frameskip: int, history: int, pred: int, shortest: int) -> tuple[int, int]:
    """(frameskip, history) for a dataset at ``fps`` whose shortest episode has ``shortest`` frames."""
    fs = max(1, round(frameskip * fps / PRESET_FPS))
    h = history
    while h > 1 and (h + pred) * fs + 1 > shortest:
        h -= 1
    while fs > 1 and (h + pred) * fs + 1 > shortest:
        fs -= 1
    return fs, h


def adapt_to_recorded(cfg: Config, overrides: list[str] | None) -> list[str]:
    """Set ``data.env``, ``data.frameskip`` and ``data.history`` from an imported file (``cfg.data.path``).

    Settings given with ``--set`` are left alone. Returns one line per setting changed (empty for
    a file that was not imported from LeRobot).
    """
    from jepaworld.data import EpisodeFile

    path = Path(cfg.data.path)
    if not path.is_file():
        return []
    with EpisodeFile(path) as f:
        attrs = f.attrs
        if attrs.get("source") != "lerobot":
            return []
        shortest = int(f.ep_len.min()) if f.n_episodes else 0
    given = {o.split("=", 1)[0].strip() for o in overrides or []}
    d, lines = cfg.data, []
    if "data.env" not in given and d.env != attrs["env"]:
        lines.append(f"data.env={attrs['env']} (the file's)")
        d.env = attrs["env"]
    fps = float(attrs.get("fps", PRESET_FPS))
    fs, h = timing_for(fps, d.frameskip, d.history, d.pred, shortest)
    if "data.frameskip" not in given and fs != d.frameskip:
        lines.append(f"data.frameskip={fs} (was {d.frameskip}: {fs / fps:.2f} s per action block at {fps:g} fps)")
        d.frameskip = fs
    if "data.history" not in given and h != d.history:
        lines.append(f"data.history={h} (was {d.history}: the shortest episode has {shortest} frames)")
        d.history = h
    return lines
