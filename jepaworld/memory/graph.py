"""A graph over remembered states, and shortest paths through it that the world model vouches for.

Nodes are remembered states. Edges, weighted in *blocks* (action blocks of ``frameskip`` steps):

- **observed**: a transition seen in the data (weight 1), known reachable;
- **proximity**: each state to its ``neighbours`` nearest remembered states within ``near`` median
  one-block latent steps (weight = latent distance / that median step). Latent proximity is not
  reachability (two frames either side of a wall can embed close), so a proximity edge is used
  only once the world model has confirmed it: planned toward from its source with the planner,
  its cost must be no worse than the ``quantile`` of the costs of observed one-block transitions
  planned the same way (``calibrate``).

``route`` is lazy (as in lazy PRM): a shortest path (Dijkstra) over observed and not-yet-refuted
proximity edges; its unconfirmed proximity edges are checked in one batched planner call; refuted
ones are dropped and the search repeats. Verdicts are cached in the memory file (table ``edges``),
so each edge is asked about once.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from jepaworld.memory.index import NearestIndex

# (src ids (N,), dst ids (N,)) -> reachable (N,) bool and planned cost (N,)
Confirm = Callable[[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class GraphConfig:
    neighbours: int = 8  # proximity candidates per state
    near: float = 1.0  # proximity radius, in median one-block latent steps
    max_rounds: int = 20  # lazy search: confirm-and-retry rounds per route


class MemoryGraph:
    """Observed and proximity edges over the states of a ``NearestIndex`` (see the module docstring).

    src, dst (E,): observed transitions (remembered state ids).
    """

    def __init__(self, index: NearestIndex, src: np.ndarray, dst: np.ndarray, cfg: GraphConfig = GraphConfig(),
                 chunk: int = 2048) -> None:  # fmt: skip
        self.index, self.cfg = index, cfg
        z = index.z.numpy()
        row = index.row
        s_rows = np.array([row[int(i)] for i in src], np.int64)
        d_rows = np.array([row[int(i)] for i in dst], np.int64)
        steps = np.linalg.norm(z[d_rows] - z[s_rows], axis=1) if len(s_rows) else np.ones(1)
        self.step = float(max(np.median(steps), 1e-6))  # median latent length of one block
        self.adj: list[dict[int, tuple[float, bool]]] = [{} for _ in range(len(index))]  # row -> {row: (w, observed)}
        for a, b in zip(s_rows, d_rows, strict=True):
            self.adj[a][int(b)] = (1.0, True)
        radius = (cfg.near * self.step) ** 2
        for i in range(0, len(index), chunk):
            ids, dist = index.search(index.z[i : i + chunk], k=cfg.neighbours + 1)
            for r, (nbr, d2) in enumerate(zip(ids, dist, strict=True)):
                a = i + r
                for j, dj in zip(nbr, d2, strict=True):
                    b = row[int(j)]
                    if b != a and dj <= radius and b not in self.adj[a]:
                        self.adj[a][b] = (max(float(np.sqrt(dj)) / self.step, 0.05), False)
        self.refuted: set[tuple[int, int]] = set()  # (row, row) proximity edges the model refuted
        self.confirmed: set[tuple[int, int]] = set()

    @property
    def edges(self) -> tuple[int, int]:
        """(observed, proximity) edge counts."""
        obs = sum(sum(1 for _, o in a.values() if o) for a in self.adj)
        return obs, sum(len(a) for a in self.adj) - obs

    def load_verdicts(self, verdicts: dict[tuple[int, int], bool]) -> None:
        """Past world-model verdicts keyed by state ids (``MemoryStore.edge_verdicts``)."""
        row = self.index.row
        for (s, d), ok in verdicts.items():
            if s in row and d in row:
                (self.confirmed if ok else self.refuted).add((row[s], row[d]))

    def shortest(self, a: int, b: int) -> list[int] | None:
        """Rows of a lightest path from row ``a`` to row ``b`` over usable edges (Dijkstra), or None."""
        dist: dict[int, float] = {a: 0.0}
        prev: dict[int, int] = {}
        heap = [(0.0, a)]
        while heap:
            d, u = heapq.heappop(heap)
            if u == b:
                path = [b]
                while path[-1] != a:
                    path.append(prev[path[-1]])
                return path[::-1]
            if d > dist.get(u, np.inf):
                continue
            for v, (w, _) in self.adj[u].items():
                if (u, v) in self.refuted:
                    continue
                nd = d + w
                if nd < dist.get(v, np.inf):
                    dist[v], prev[v] = nd, u
                    heapq.heappush(heap, (nd, v))
        return None

    def route(self, a: int, b: int, confirm: Confirm) -> tuple[list[int] | None, list[tuple[int, int, bool, float]]]:
        """A world-model-vouched lightest path of rows from ``a`` to ``b`` (None if there is none), and the
        verdicts made on the way as (src id, dst id, reachable, cost) rows for ``MemoryStore.add_edge_verdicts``."""
        made: list[tuple[int, int, bool, float]] = []
        for _ in range(self.cfg.max_rounds):
            path = self.shortest(a, b)
            if path is None:
                return None, made
            pending = [(u, v) for u, v in zip(path[:-1], path[1:], strict=True) if not self.adj[u][v][1]
                       and (u, v) not in self.confirmed]  # fmt: skip
            if not pending:
                return path, made
            u_rows, v_rows = np.array([p[0] for p in pending]), np.array([p[1] for p in pending])
            ok, cost = confirm(self.index.ids[u_rows], self.index.ids[v_rows])
            for u, v, good, c in zip(u_rows, v_rows, ok, cost, strict=True):
                (self.confirmed if good else self.refuted).add((int(u), int(v)))
                made.append((int(self.index.ids[u]), int(self.index.ids[v]), bool(good), float(c)))
        return None, made

    def weights(self, path: Sequence[int]) -> np.ndarray:
        """Cumulative weight (blocks) along a path of rows: (len(path),), starting at 0."""
        w = [self.adj[u][v][0] for u, v in zip(path[:-1], path[1:], strict=True)]
        return np.concatenate([[0.0], np.cumsum(w)])
