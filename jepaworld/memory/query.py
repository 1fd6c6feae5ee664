"""Asking a memory: named goals in, nearest remembered states out (to an image, or to an entity condition).

    add_goal(store, wm, "door", image)                     # image uint8 (H, W, 3) at the run's resolution
    nearest_states(store, wm, image, k=5)                  # -> [Match], nearest embedding first
    matching_states(store, Condition("block", (200, 300), 30.0), k=5)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jepaworld.errors import JepaworldError
from jepaworld.images import resize_square
from jepaworld.memory.entities import Condition
from jepaworld.memory.index import NearestIndex
from jepaworld.memory.store import Goal, MemoryStore
from jepaworld.model.encode import encode


@dataclass(frozen=True)
class Match:
    id: int
    source: str
    episode: int
    step: int
    distance: float  # squared latent distance (image queries) or entity distance (condition queries)
    state: np.ndarray | None  # env state, if remembered
    decoded: np.ndarray | None  # the probe's reading of the embedding, if fitted
    thumb: bytes | None


def check_image(image: np.ndarray, resolution: int) -> np.ndarray:
    """A goal/query image as uint8 (res, res, 3); other square sizes are resized (bilinear)."""
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] not in (3, 4) or image.shape[0] != image.shape[1]:
        raise JepaworldError(f"expected a square RGB image, got shape {tuple(image.shape)}")
    image = image[..., :3].astype(np.uint8)
    if image.shape[0] != resolution:
        image = resize_square(image, resolution)
    return image


def add_goal(store: MemoryStore, model: Any, name: str, image: np.ndarray, state: np.ndarray | None = None,
             source: str = "image", replace: bool = False) -> Goal:  # fmt: skip
    """Remember ``image`` (its embedding by ``model``'s encoder) as the goal ``name``."""
    image = check_image(image, store.header.resolution)
    z = encode(model, image[None]).cpu().numpy()[0]
    goal = Goal(name=name, image=image, z=z, state=None if state is None else np.asarray(state, np.float32),
                source=source)  # fmt: skip
    store.add_goal(goal, replace=replace)
    return goal


def _match(store: MemoryStore, state_id: int, distance: float) -> Match:
    info = store.state_info(state_id)
    return Match(id=info["id"], source=info["source"], episode=info["episode"], step=info["step"],
                 distance=float(distance), state=info["state"], decoded=info["decoded"],
                 thumb=info["thumb"])  # fmt: skip


def nearest_states(store: MemoryStore, model: Any, image: np.ndarray, k: int = 5,
                   index: NearestIndex | None = None) -> list[Match]:  # fmt: skip
    """The ``k`` remembered states whose embeddings are nearest to ``image``'s."""
    if k < 1:
        raise JepaworldError(f"k must be >= 1, got {k}")
    z = encode(model, check_image(image, store.header.resolution)[None]).cpu().numpy()
    index = index or NearestIndex(*store.embeddings())
    if not len(index):
        raise JepaworldError(f"{store.path} remembers no states yet; run `jepaworld memory build`")
    ids, dist = index.search(z, k=k)
    return [_match(store, int(i), float(d)) for i, d in zip(ids[0], dist[0], strict=True)]


def matching_states(store: MemoryStore, condition: Condition, k: int = 5, decoded: bool = False) -> list[Match]:
    """Up to ``k`` remembered states meeting ``condition``, closest first; by env state, or by the probe's
    decoding of the embedding when ``decoded`` (or when the memory has no env states)."""
    entities = store.entities()
    if not entities:
        raise JepaworldError(f"{store.path} tracks no entities (it was built from data without states)")
    ids, states = (store.decoded_states() if decoded else store.env_states())
    if not len(ids) and not decoded:
        ids, states = store.decoded_states()
    if not len(ids):
        raise JepaworldError(f"{store.path} has no env states nor decoded states to test {condition.entity!r} on")
    dist = condition.distance(states, entities)
    hit = np.flatnonzero(dist <= condition.within)
    hit = hit[np.argsort(dist[hit])][:k]
    return [_match(store, int(ids[i]), float(dist[i])) for i in hit]


@dataclass(frozen=True)
class RetrievalCheck:
    """How well a memory's latent nearest neighbour stands in for a goal, per entity (env-state units).

    retrieved: median distance between each goal's entity state and that of its latent-nearest
    remembered state; best: the same for the remembered state nearest in that entity itself (what a
    perfect embedding would retrieve). retrieved >> best: the embedding does not tell the entity's
    states apart, so routes through memory cannot target it.
    """

    goals: int
    retrieved: dict[str, float]
    best: dict[str, float]


def check_retrieval(store: MemoryStore, model: Any, frames: np.ndarray, states: np.ndarray) -> RetrievalCheck:
    """Goal frames (N, H, W, 3) with their env states (N, S) against the memory's remembered states."""
    entities = store.entities()
    sid, remembered = store.env_states()
    if not entities or not len(sid):
        raise JepaworldError(f"{store.path} has no env states to compare with; build it from data with states")
    index = NearestIndex(*store.embeddings())
    ids, _ = index.search(encode(model, frames).cpu().numpy(), k=1, exact=True)
    where = {int(i): k for k, i in enumerate(sid)}
    got = remembered[[where[int(i)] for i in ids[:, 0]]]
    retrieved, best = {}, {}
    for name, (cols, _) in entities.items():
        cols = cols[:2] if len(cols) > 2 else cols  # positions: x, y (an angle is not a distance)
        goal = np.asarray(states)[:, cols]
        retrieved[name] = float(np.median(np.linalg.norm(got[:, cols] - goal, axis=1)))
        d = np.linalg.norm(remembered[None, :, cols] - goal[:, None], axis=2)  # (N, M)
        best[name] = float(np.median(d.min(axis=1)))
    return RetrievalCheck(len(frames), retrieved, best)
