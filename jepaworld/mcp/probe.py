"""What the server reads the world with besides the model: the entity probe, and the agent's distilled parts."""

from __future__ import annotations

from typing import Any

import numpy as np

from jepaworld.errors import JepaworldError
from jepaworld.memory import MemoryStore, StateDecoder, load_decoder
from jepaworld.model.encode import encode


def entity_probe(model: Any, store: MemoryStore, frames: int) -> tuple[StateDecoder | None, str]:
    """The memory's linear probe (embedding -> env state), else one fitted on up to ``frames`` random frames of
    the run's training episodes; None when neither exists. Returns it and where it came from, in words."""
    dec = load_decoder(store)
    if dec is not None:
        return dec, f"the memory's linear probe ({store.path})"
    from jepaworld.run.episodes import training_episodes

    try:
        f, ids = training_episodes(model.meta, "the entity probe is fitted on")
    except JepaworldError as e:
        return None, f"none: {e}"
    with f:
        if not f.has_state:
            return None, f"none: {model.meta.data_path} has no env states to fit a probe on"
        rows = np.concatenate([int(f.ep_offset[e]) + np.arange(int(f.ep_len[e])) for e in ids])
        rows = np.sort(np.random.default_rng(0).choice(rows, min(frames, len(rows)), replace=False))
        pixels, states = np.asarray(f.pixels[rows]), np.asarray(f.state[rows])
    z = encode(model, pixels).float().cpu().numpy()
    return StateDecoder.fit(z, states, model.meta.env), f"a linear probe fitted on {len(rows)} training frames"


def agent_parts(model: Any) -> tuple[Any, Any, str]:
    """The distilled policy and surprise guard of ``RUN/agent`` (both None when missing), and a note in words."""
    from jepaworld.agent.agent import agent_folder
    from jepaworld.agent.guard import load_guard
    from jepaworld.agent.policy import load_policy

    try:
        folder = agent_folder(model)
        policy = load_policy(folder, device=next(model.parameters()).device)[0]
        return policy, load_guard(folder), f"distilled policy and guard from {folder}"
    except JepaworldError as e:
        return None, None, str(e)
