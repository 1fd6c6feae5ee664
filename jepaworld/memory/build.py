"""``memory build``: remember every model frame of a set of episodes, resumably.

For each episode, the frames the model sees (every ``frameskip`` env steps, as in training and
planning) are encoded with the run's encoder and stored with their env state and a thumbnail;
consecutive ones are linked by a transition carrying the action block executed between them.
Episodes are written ``chunk`` at a time, each chunk in one transaction together with the record
that its episodes are done, so a build killed at any point (even ``kill -9``) loses at most the
chunk in flight and the next run of the same command resumes after the last committed one. At the
end a linear probe from embeddings to env states is fitted on the remembered states (when the data
has states) and the decoded entity states are stored beside the true ones.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from jepaworld.data import EpisodeFile, check_compatible
from jepaworld.envs import get_spec
from jepaworld.errors import JepaworldError
from jepaworld.images import png_bytes
from jepaworld.lock import exclusive
from jepaworld.memory.entities import StateDecoder, env_entities
from jepaworld.memory.store import MemoryHeader, MemoryStore, StateRow
from jepaworld.model.encode import encode
from jepaworld.run.episodes import training_episodes

Progress = Callable[[str, int, int], None]
THUMB = 16  # thumbnail side, pixels


@dataclass
class BuildResult:
    path: Path
    source: str
    episodes_added: int
    episodes_skipped: int  # already remembered by an earlier (maybe interrupted) build
    states: int  # in the file after the build
    transitions: int


def memory_header(model: Any) -> MemoryHeader:
    """The header a memory built with ``model``'s encoder carries."""
    meta = model.meta
    ck = getattr(model, "checkpoint_path", None)  # RUN/checkpoints/<step>
    run = str(Path(ck).parent.parent) if ck is not None else ""
    return MemoryHeader(env=meta.env, resolution=meta.resolution, embed_dim=int(model.config.model.embed_dim),
                        frameskip=meta.frameskip, run=run, step=int(meta.step))  # fmt: skip


def open_for(model: Any, path: str | Path, create: bool = False) -> MemoryStore:
    """The memory at ``path`` checked against ``model`` (same env, frames, encoder); created if asked."""
    header = memory_header(model)
    if create and not Path(path).exists():
        return MemoryStore.create(path, header)
    store = MemoryStore.open(path)
    h = store.header
    same = (h.env, h.resolution, h.embed_dim, h.frameskip, h.step) == (
        header.env, header.resolution, header.embed_dim, header.frameskip, header.step)  # fmt: skip
    if not same or (h.run and header.run and Path(h.run).resolve() != Path(header.run).resolve()):
        store.close()
        raise JepaworldError(
            f"{path} was built with the encoder of {h.run} (step {h.step}, {h.env}, {h.resolution} px); its embeddings "
            f"are not comparable with {header.run} (step {header.step}); build a new memory for this run (--out)"
        )
    return store


def build_memory(model: Any, out: str | Path, data_path: str | None = None, chunk: int = 20,
                 progress: Progress | None = None) -> BuildResult:  # fmt: skip
    """Remember the episodes of ``data_path`` (default: the run's training episodes) in ``out``.

    One build per memory file at a time: a second is refused, naming the first's PID."""
    with exclusive(f"{out}.lock", f"the memory {out}"):
        return _build_memory(model, out, data_path, chunk, progress)


def _build_memory(model: Any, out: str | Path, data_path: str | None, chunk: int,
                  progress: Progress | None) -> BuildResult:  # fmt: skip
    if chunk < 1:
        raise JepaworldError(f"chunk must be >= 1 episode, got {chunk}")
    meta = model.meta
    if data_path is None:
        f, ids = training_episodes(meta, "the memory is built from")
        source = str(Path(meta.data_path).resolve())
    else:
        f = EpisodeFile(data_path)
        f.validate()
        check_compatible(f, env=meta.env, resolution=meta.resolution, dynamics=get_spec(meta.env).dynamics)
        ids, source = list(range(f.n_episodes)), str(Path(data_path).resolve())
    store = open_for(model, out, create=True)
    try:
        done = store.built_episodes(source)
        todo = [e for e in ids if e not in done]
        offsets, lengths = np.asarray(f.ep_offset), np.asarray(f.ep_len)
        fs, has_state = meta.frameskip, f.has_state
        if has_state and not store.entities():
            with store.transaction():
                store.set_entities(meta.env, env_entities(meta.env, int(f.state.shape[1])))
        for i in range(0, len(todo), chunk):
            batch = todo[i : i + chunk]
            rows: list[StateRow] = []
            links: list[tuple[int, int, np.ndarray]] = []  # (row from, row to, its raw actions)
            for e in batch:
                steps = np.arange(0, int(lengths[e]), fs)
                o = int(offsets[e])
                pixels = np.asarray(f.pixels[o + steps[0] : o + steps[-1] + 1 : fs])
                z = encode(model, pixels).cpu().numpy()
                states = np.asarray(f.state[o + steps[0] : o + steps[-1] + 1 : fs]) if has_state else None
                actions = np.asarray(f.action[o : o + int(lengths[e])])
                first = len(rows)
                for k, t in enumerate(steps):
                    rows.append(StateRow(source, int(e), int(t), z[k], None if states is None else states[k],
                                         png_bytes(_thumbnail(pixels[k]))))  # fmt: skip
                for k in range(len(steps) - 1):
                    links.append((first + k, first + k + 1, actions[steps[k] : steps[k] + fs]))
            with store.transaction():
                new = store.add_states(rows)
                store.add_transitions([(new[a], new[b], act) for a, b, act in links])
                store.mark_built(source, batch)
            if progress:
                progress("remembering episodes", min(i + chunk, len(todo)), len(todo))
        if has_state and todo:
            _fit_decoder(store)
        return BuildResult(Path(out), source, len(todo), len(ids) - len(todo), store.count("states"),
                           store.count("transitions"))  # fmt: skip
    finally:
        store.close()


def _fit_decoder(store: MemoryStore) -> None:
    """Fit the embedding -> env state probe on every remembered state with a state; store decodings."""
    ids, z = store.embeddings()
    sid, states = store.env_states()
    if len(sid) < 10:
        return
    index = {int(i): k for k, i in enumerate(ids)}
    zs = z[[index[int(i)] for i in sid]]
    decoder = StateDecoder.fit(zs, states, store.header.env)
    with store.transaction():
        store.set_meta("decoder", decoder.to_json())
        store.set_decoded(ids, decoder.decode(z))


def load_decoder(store: MemoryStore) -> StateDecoder | None:
    text = store.meta("decoder")
    return None if text is None else StateDecoder.from_json(text)


def _thumbnail(frame: np.ndarray) -> np.ndarray:
    """uint8 (H, W, 3) -> (THUMB, THUMB, 3) by block averaging (nearest when H is not a multiple)."""
    H = frame.shape[0]
    if H % THUMB == 0:
        k = H // THUMB
        return frame.reshape(THUMB, k, THUMB, k, 3).mean(axis=(1, 3)).astype(np.uint8)
    idx = (np.arange(THUMB) * H) // THUMB
    return frame[idx][:, idx]
