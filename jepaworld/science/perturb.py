"""Matched trajectories for the violation-of-expectation test: unperturbed, teleported, recoloured.

Each trajectory starts from the state of a random frame of a held-out episode and executes that
episode's recorded actions from there (or uniform random ones), rendering a frame every
``frameskip`` env steps: frames ``0 .. T-1``, with action block ``j`` taken between frames ``j``
and ``j + 1``. The three kinds share the start and the actions, and are identical up to frame
``K - 1`` (``K``: the event step):

- unperturbed: the actions as executed;
- teleport: after the block that leads to frame ``K``, ``set_state`` moves part of the state to
  where it was in another held-out frame, at least the median distance away: what the env's
  ``StateLayout.teleport`` names (the agent in Two-Room, the block, position and angle, clear of the
  agent, in Push-T), the whole state in any other env. Frame ``K`` shows the jump; the actions then continue from there;
- recolour: the unperturbed frames from ``K`` on with their colour channels reversed (RGB -> BGR):
  in Two-Room the red agent turns blue (floor and walls are grey and stay as they are); in Push-T
  the blue agent turns orange and the grey block changes tint.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from jepaworld.data import EpisodeFile
from jepaworld.envs import get_spec, make, state_layout
from jepaworld.envs.goal import goal_provider, missing_goal_methods
from jepaworld.errors import JepaworldError

KINDS = ("unperturbed", "teleport", "recolour")
Progress = Callable[[str, int, int], None]


@dataclass
class MatchedTrajectories:
    """``frames[kind]`` uint8 (B, T, H, W, 3) and ``states[kind]`` (B, T, S) for each of :data:`KINDS`;
    ``actions`` raw (B, (T-1)*frameskip, A), shared; ``starts``: (episode, row) of each first frame."""

    frames: dict[str, np.ndarray]
    states: dict[str, np.ndarray]
    actions: np.ndarray
    starts: list[tuple[int, int]]
    event_step: int
    teleported: str


def teleported_part(env_name: str) -> tuple[str, list[int], list[int]]:
    """What a teleport moves in ``env_name``: (name, state indices replaced, indices its distance is measured on)."""
    layout = state_layout(env_name)
    if layout is None or layout.teleport is None:
        return "state", [], []  # empty: the whole state
    t = layout.teleport
    return t.part, list(t.columns), list(t.measure)


def teleport_state(env_name: str, state: np.ndarray, pool: np.ndarray, rng: np.random.Generator,
                   valid: Callable[[np.ndarray], bool] | None = None) -> np.ndarray:  # fmt: skip
    """``state`` with its teleported part taken from a random ``pool`` state at least the median distance
    away (and ``valid``, e.g. accepted by ``set_state``); the farthest valid candidate if none is."""
    _, replace, measure = teleported_part(env_name)
    replace = replace or list(range(len(state)))
    measure = measure or list(range(len(state)))
    dist = np.linalg.norm(pool[:, measure] - state[measure], axis=1)
    far = dist >= np.median(dist)
    best, best_d = None, -1.0
    for i in rng.permutation(len(pool)):
        cand = np.array(state, np.float32, copy=True)
        cand[replace] = pool[i, replace]
        if dist[i] <= 0 or not _clear(env_name, cand) or (valid is not None and not valid(cand)):
            continue
        if far[i]:
            return cand
        if dist[i] > best_d:
            best, best_d = cand, float(dist[i])
    if best is None:
        raise JepaworldError("no held-out state could serve as a teleport target; use more --episodes")
    return best


def _clear(env_name: str, state: np.ndarray) -> bool:
    """Whether the env's teleport accepts ``state`` (Push-T: the agent clear of the teleported block)."""
    layout = state_layout(env_name)
    clear = layout.teleport.clear if layout is not None and layout.teleport is not None else None
    return clear is None or clear(state)


def recolour(frames: np.ndarray) -> np.ndarray:
    """Frames (..., H, W, 3) with their colour channels reversed (RGB -> BGR)."""
    return np.ascontiguousarray(np.asarray(frames)[..., ::-1])


def _settable(env) -> Callable[[np.ndarray], bool]:
    def valid(state: np.ndarray) -> bool:
        try:
            goal_provider(env).set_state(state)
        except (JepaworldError, ValueError):
            return False
        return True

    return valid


def matched_trajectories(
    env_name: str,
    resolution: int,
    file: EpisodeFile,
    episode_ids: list[int],
    n_frames: int,
    event_step: int,
    frameskip: int,
    seed: int = 0,
    actions: str = "recorded",
    progress: Progress | None = None,
) -> MatchedTrajectories:
    """One trajectory of each kind per held-out episode long enough for ``n_frames`` frames (see the module
    docstring); ``actions``: "recorded" (the episode's own, from the start frame on) or "random"."""
    if n_frames < 2:
        raise JepaworldError(f"--frames must be >= 2, got {n_frames}")
    if not 1 <= event_step <= n_frames - 1:
        raise JepaworldError(
            f"--event-step must be in [1, {n_frames - 1}] (frames 0..{n_frames - 1}), got {event_step}"
        )
    if actions not in ("recorded", "random"):
        raise JepaworldError(f"--actions must be 'recorded' or 'random', got {actions!r}")
    states_all = np.asarray(file.require_state("the surprise test (start states and teleports)")[...], np.float32)
    action_all = np.asarray(file.action[...], np.float32)
    lens, offs = np.asarray(file.ep_len), np.asarray(file.ep_offset)
    span = (n_frames - 1) * frameskip
    usable = [e for e in episode_ids if lens[e] - 1 >= span]
    if not usable:
        raise JepaworldError(
            f"{n_frames} frames {frameskip} env steps apart need episodes of at least {span + 1} rows; the longest "
            f"held-out one has {int(lens[episode_ids].max())}: lower --frames"
        )
    pool = np.concatenate([states_all[offs[e] : offs[e] + lens[e]] for e in episode_ids])
    spec = get_spec(env_name)
    rng = np.random.default_rng(seed)
    env = make(env_name, resolution=resolution)
    for name in ("get_state", "set_state"):
        if name in missing_goal_methods(env):
            env.close()
            raise JepaworldError(
                f"{env_name} has no {name}(); the surprise test places the env in recorded states: add get_state / "
                "set_state to the environment class (see jepaworld.envs.goal)"
            )
    provider = goal_provider(env)
    K, fs = event_step, frameskip
    out: dict[str, tuple[list[np.ndarray], list[np.ndarray]]] = {k: ([], []) for k in KINDS}  # frames, states
    acts_all: list[np.ndarray] = []
    starts: list[tuple[int, int]] = []
    try:
        for i, e in enumerate(usable):
            t0 = int(rng.integers(0, lens[e] - span))
            row = offs[e] + t0
            if actions == "recorded":
                acts = action_all[row : row + span]
            else:
                acts = rng.uniform(spec.action_low, spec.action_high, (span, len(spec.action_low))).astype(np.float32)
            env.reset(seed=seed + i)
            provider.set_state(states_all[row])
            frames: list[np.ndarray] = [np.asarray(env.render())]
            states = [provider.get_state()]
            event_state = None
            for j in range(n_frames - 1):
                for a in acts[j * fs : (j + 1) * fs]:
                    obs, *_ = env.step(a)
                frames.append(obs)
                states.append(provider.get_state())
                if j + 1 == K:
                    event_state = states[-1].copy()
            assert event_state is not None  # 1 <= K <= n_frames - 1 (checked above)
            # teleport: the same up to frame K-1, then the jump, then the same actions from the new state
            jump = teleport_state(env_name, event_state, pool, rng, valid=_settable(env))
            provider.set_state(jump)
            t_frames, t_states = frames[:K] + [np.asarray(env.render())], states[:K] + [provider.get_state()]
            for j in range(K, n_frames - 1):
                for a in acts[j * fs : (j + 1) * fs]:
                    obs, *_ = env.step(a)
                t_frames.append(obs)
                t_states.append(provider.get_state())
            frames_np = np.stack(frames)
            recoloured = frames_np.copy()
            recoloured[K:] = recolour(frames_np[K:])
            for kind, (fr, st) in (("unperturbed", (frames_np, states)), ("teleport", (np.stack(t_frames), t_states)),
                                   ("recolour", (recoloured, states))):  # fmt: skip
                out[kind][0].append(fr)
                out[kind][1].append(np.stack(st))
            acts_all.append(acts)
            starts.append((int(e), t0))
            if progress:
                progress("simulating trajectories", i + 1, len(usable))
    finally:
        env.close()
    return MatchedTrajectories(
        frames={k: np.stack(v[0]) for k, v in out.items()}, states={k: np.stack(v[1]) for k, v in out.items()},
        actions=np.stack(acts_all), starts=starts, event_step=K, teleported=teleported_part(env_name)[0],
    )  # fmt: skip
