"""Long-horizon goals as a chain of near ones: route through memory, pursue each subgoal with latent MPC.

    nav = Navigator(wm, "runs/demo/run/memory.sqlite")    # loads the memory, its graph and threshold
    nav.reset(goal_frames)                                  # uint8 (B, H, W, 3), or one (H, W, 3)
    nav.go("door")                                          # or a goal named with `jepaworld memory add-goal`
    block = nav.act(frames)                                 # raw actions (B, fs, A): a controller, as LatentMPC

Per env: the current frame and the goal map to their nearest remembered states; a world-model
vouched lightest path between them (``MemoryGraph.route``) is the route. Every block the loop
finds how far along the route the agent is (the nearest route state within a window ahead of the
last one reached), and points the closed-loop planner (``LatentMPC``, its goal swapped with
``retarget``) at the route state ``hop`` blocks further on, or at the goal itself once the rest of
the route is within ``hop`` blocks. An agent that makes no progress for ``patience`` blocks is
re-routed from where it is, and the route edge it was stuck on is marked refuted. With no route
(the goal's nearest memory is unreachable in the graph), it plans straight at the goal, as the
flat planner would.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepaworld.config import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.memory.build import open_for
from jepaworld.memory.graph import GraphConfig, MemoryGraph
from jepaworld.memory.index import NearestIndex
from jepaworld.memory.store import MemoryStore


@dataclass(frozen=True)
class NavigatorConfig:
    hop: float = 4.0  # subgoal this many blocks ahead on the route (< the planner's horizon)
    window: int = 12  # route states ahead of the last reached one searched for progress
    patience: int = 6  # blocks without progress before re-routing
    quantile: float = 0.95  # confirmation threshold: this quantile of observed transitions' planned cost
    calibration_pairs: int = 256
    graph: GraphConfig = field(default_factory=GraphConfig)


@dataclass
class _Row:
    """One env's route: rows of the graph, cumulative weights, progress."""

    route: list[int] | None = None
    cum: np.ndarray | None = None
    at: int = 0  # index in route of the last state reached
    stall: int = 0
    reroutes: int = 0
    direct: bool = False  # no route: pursue the goal directly


class Navigator:
    """Memory-routed closed loop over B environments (see the module docstring)."""

    def __init__(self, model: Any, memory: str | Path | MemoryStore, plan: PlanConfig | None = None, seed: int = 0,
                 cfg: NavigatorConfig = NavigatorConfig()) -> None:  # fmt: skip
        self.model, self.cfg = model, cfg
        self.store = memory if isinstance(memory, MemoryStore) else open_for(model, memory)
        ids, z = self.store.embeddings()
        if len(ids) < 2:
            raise JepaworldError(f"{self.store.path} remembers {len(ids)} states; fill it with "
                                 "`jepaworld memory build`")  # fmt: skip
        self.index = NearestIndex(ids, z)
        src, dst = self.store.transitions()
        self.graph = MemoryGraph(self.index, src, dst, cfg.graph)
        self.graph.load_verdicts(self.store.edge_verdicts())
        self.mpc = model.mpc(plan, seed)
        self.confirm_times: list[float] = []  # seconds of the plans that checked proximity edges
        self.threshold = self._calibrate(src, dst, seed)
        self.rows: list[_Row] = []

    @property
    def plan_times(self) -> list[float]:
        return self.mpc.plan_times

    @property
    def frameskip(self) -> int:
        return self.mpc.frameskip

    # ------------------------------------------------------------------------ the world model's word
    def confirm(self, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Remembered ids src -> dst (N,): does a plan from src reach dst within one horizon? (ok (N,), cost (N,))."""
        cost = self._plan_cost(src, dst)
        return cost <= self.threshold, cost

    def _plan_cost(self, src: np.ndarray, dst: np.ndarray) -> np.ndarray:
        h = self.mpc.history
        z_src, z_dst = self.index.vectors(src).to(self.mpc.device), self.index.vectors(dst).to(self.mpc.device)
        out, n = [], len(self.mpc.plan_times)
        for i in range(0, len(z_src), 256):
            z_hist = z_src[i : i + 256, None].repeat(1, h, 1)
            out.append(self.mpc.plan_latent(z_hist, z_dst[i : i + 256]).cost.detach().cpu().numpy())
        self.confirm_times += self.mpc.plan_times[n:]  # kept apart: plan_times are the closed loop's plans
        del self.mpc.plan_times[n:]
        return np.concatenate(out) if out else np.zeros(0, np.float32)

    def _calibrate(self, src: np.ndarray, dst: np.ndarray, seed: int) -> float:
        """The cost quantile of observed one-block transitions src -> dst (E,) planned toward like a
        proximity edge, cached in the memory file per planner setting."""
        key = f"confirm_threshold|q={self.cfg.quantile}|{self.mpc.cfg.describe()}"
        cached = self.store.meta(key)
        if cached is not None:
            return float(cached)
        if len(src) == 0:
            raise JepaworldError(f"{self.store.path} has no transitions to calibrate reachability on; rebuild it")
        pick = np.random.default_rng(seed).choice(len(src), min(self.cfg.calibration_pairs, len(src)), replace=False)
        threshold = float(np.quantile(self._plan_cost(src[pick], dst[pick]), self.cfg.quantile))
        with self.store.transaction():
            self.store.set_meta(key, repr(threshold))
        return threshold

    # ----------------------------------------------------------------------------- the closed loop
    def reset(self, goal_obs: np.ndarray) -> None:
        """New episode(s) toward goal images uint8 (H, W, 3) or (B, H, W, 3)."""
        self.mpc.reset(goal_obs)
        self.z_final = self.mpc.z_goal.clone()  # (B, D)
        goal_ids, _ = self.index.search(self.z_final.cpu(), k=1)
        self.goal_rows = [self.index.row[int(i)] for i in goal_ids[:, 0]]
        self.rows = [_Row() for _ in self.goal_rows]

    def go(self, name: str) -> np.ndarray:
        """Start an episode toward the goal remembered as ``name``; returns its image (H, W, 3)."""
        image = self.store.goal(name).image
        self.reset(image)
        return image

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """The frame(s) now -> the next block of raw actions (fs, A) or (B, fs, A); every row is routed and
        planned (``active``, the controller protocol's, is not used)."""
        z = self.mpc.observe(obs)  # (B, D), encoded once: the route and the planner share it
        self.mpc.retarget(torch.stack([self._target(b, z[b]) for b in range(len(z))]))
        return self.mpc.decide()

    def _target(self, b: int, z: torch.Tensor) -> torch.Tensor:
        """Row b's subgoal embedding (D,) for the frame embedding z (D,)."""
        r, cfg = self.rows[b], self.cfg
        if r.direct:
            return self.z_final[b]
        if r.route is None:
            self._reroute(b, z)
        if r.route is None or r.cum is None:  # no route to the goal (r.direct): pursue it directly
            return self.z_final[b]
        route, cum = r.route, r.cum
        ahead = route[r.at : r.at + cfg.window + 1]
        d = ((self.index.z[ahead] - z.cpu()) ** 2).sum(1)
        k = int(torch.argmin(d))
        if k > 0:
            r.at, r.stall = r.at + k, 0
        else:
            r.stall += 1
            if r.stall > cfg.patience:
                nxt = r.at + 1
                if nxt < len(route):
                    u, v = route[r.at], route[nxt]
                    if not self.graph.adj[u][v][1]:  # a proximity edge the agent could not cross
                        self.graph.refuted.add((u, v))
                        self.store.add_edge_verdicts([(int(self.index.ids[u]), int(self.index.ids[v]), False, -1.0)])
                self._reroute(b, z)
                if r.route is None or r.cum is None:  # no route left (r.direct)
                    return self.z_final[b]
                route, cum = r.route, r.cum
        left = cum[-1] - cum[r.at]
        if left <= cfg.hop:
            return self.z_final[b]
        j = int(np.searchsorted(cum, cum[r.at] + cfg.hop, side="right")) - 1
        return self.index.z[route[max(j, r.at + 1)]].to(self.z_final.device)

    def _reroute(self, b: int, z: torch.Tensor) -> None:
        r = self.rows[b]
        start_id, _ = self.index.search(z.cpu(), k=1)
        start = self.index.row[int(start_id[0])]
        route, made = self.graph.route(start, self.goal_rows[b], self.confirm)
        if made:
            self.store.add_edge_verdicts(made)
        if r.route is not None:
            r.reroutes += 1
        r.route, r.at, r.stall = route, 0, 0
        r.direct = route is None
        r.cum = None if route is None else self.graph.weights(route)

    def reroutes(self) -> list[int]:
        """Re-routes per env of the current episode(s)."""
        return [r.reroutes for r in self.rows]

    def close(self) -> None:
        self.store.close()
