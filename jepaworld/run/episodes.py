"""The run's episodes: the held-out ones (evaluation, science) and the training ones (probes, distillation).

Both come from the episode file the run was trained on (``RunMeta.data_path``), checked to be of the
run's env and dynamics; ``RunMeta.held_out`` splits it.
"""

from __future__ import annotations

from pathlib import Path

from jepaworld.data import EpisodeFile, check_compatible
from jepaworld.envs import get_spec
from jepaworld.envs.registry import is_recorded
from jepaworld.errors import JepaworldError
from jepaworld.run.meta import RunMeta


def _dynamics(env: str) -> str | None:
    """The env's dynamics version; None for recorded episodes (no simulator, nothing to check)."""
    return None if is_recorded(env) else get_spec(env).dynamics


def _run_file(meta: RunMeta, hint: str) -> EpisodeFile:
    """The run's own episode file; ``hint`` says what to do when it is gone."""
    if not Path(meta.data_path).exists():
        raise JepaworldError(f"the run's episode file {meta.data_path} is gone; {hint}")
    f = EpisodeFile(meta.data_path)
    check_compatible(f, env=meta.env, dynamics=_dynamics(meta.env))
    return f


def held_out_episodes(meta: RunMeta, data_path: str | None) -> tuple[EpisodeFile, list[int], str]:
    """The run's held-out episodes, or every episode of a separate file; and how to name them."""
    if data_path is None:
        f = _run_file(meta, "pass the held-out data with --data FILE")
        if not meta.held_out:
            raise JepaworldError("the run holds out no episodes (data.val_fraction=0); pass --data FILE")
        return f, list(meta.held_out), f"validation episodes of {meta.data_path}"
    f = EpisodeFile(data_path)
    f.validate()
    check_compatible(f, env=meta.env, resolution=meta.resolution, dynamics=_dynamics(meta.env))
    return f, list(range(f.n_episodes)), data_path


def training_episodes(meta: RunMeta, purpose: str) -> tuple[EpisodeFile, list[int]]:
    """The run's episode file and its training episodes (every id not held out).

    purpose: what uses them, for the messages (e.g. "probes fit on", "the policy is distilled from").
    """
    f = _run_file(meta, f"{purpose} the run's training episodes: restore that file (or re-collect it with the "
                        "same settings)")  # fmt: skip
    held = {int(i) for i in meta.held_out}
    train = [i for i in range(f.n_episodes) if i not in held]
    if not train:
        raise JepaworldError(f"{meta.data_path}: every episode is held out; {purpose} no training episode")
    return f, train
