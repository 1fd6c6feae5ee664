"""Closed-loop model-predictive control in latent space: the one loop every caller drives.

    mpc = LatentMPC(model, meta, cfg, action_low, action_high)   # or wm.controller(goal_obs)
    mpc.reset(goal_obs)                     # new episode(s): goal images uint8 (H, W, 3) or (B, H, W, 3)
    obs, _ = env.reset()
    for _ in range(10):
        for action in mpc.act(obs):         # the next block: raw actions (frameskip, A)
            obs, *_ = env.step(action)

The model sees a frame every ``frameskip`` env steps (as in training), keeps the last ``history``
embeddings and the blocks executed between them, plans ``cfg.horizon`` blocks toward the goal
embedding with ``cfg.planner`` every ``cfg.receding`` blocks, warm-starts each plan from the
shifted previous one, and hands back raw (de-normalised, clipped) actions. Evaluation
(``jepaworld eval``), the Python API, the server and benchmarks all run this class, a controller
(``jepaworld.control.Controller``) like the agent and the memory route;
``act_together(controllers, frames)`` steps several independent ones (``jepaworld serve``'s
sessions) with one encoder and one planner call, each exactly as if it were stepped alone.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Protocol

import numpy as np
import torch

from jepaworld.config import PlanConfig
from jepaworld.errors import JepaworldError
from jepaworld.plan.noise import NoiseSource, RowGenerators
from jepaworld.plan.precision import resolve_precision
from jepaworld.plan.problem import PlanProblem, PlanResult
from jepaworld.plan.registry import get_planner, plan
from jepaworld.plan.warm import shift_plan
from jepaworld.run.meta import RunMeta


class LatentModel(Protocol):
    """What the closed loop needs of a world model (``WorldModel`` and ``WorldModelEnsemble`` have it)."""

    def encode(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels uint8 (..., H, W, 3) -> z (..., D)."""
        ...

    def cost(self, z_start: torch.Tensor, z_goal: torch.Tensor, blocks: torch.Tensor, mode: str = "terminal",
             hist_blocks: torch.Tensor | None = None, precision: str = "fp32") -> torch.Tensor:  # fmt: skip
        """z_start (B, h, D), z_goal (B, D), blocks (B, S, H, fs*A) -> cost (B, S)."""
        ...

    def parameters(self, recurse: bool = True) -> Iterator[torch.nn.Parameter]: ...


class LatentMPC:
    """Latent MPC for one environment or a batch of B, toward goal images.

    model: a ``WorldModel`` (``encode`` and ``cost``); meta: its ``RunMeta`` (normaliser, frameskip,
    history); action_low, action_high: (A,) the env's action box; seed: the planner's noise.
    """

    def __init__(
        self,
        model: LatentModel,
        meta: RunMeta,
        cfg: PlanConfig,
        action_low: np.ndarray,
        action_high: np.ndarray,
        seed: int = 0,
    ) -> None:
        get_planner(cfg.planner)  # an unknown name fails here, not at the first frame
        self.model, self.meta, self.cfg = model, meta, cfg
        self.normalizer = meta.normalizer
        self.frameskip, self.history = meta.frameskip, meta.history
        self.action_low = np.asarray(action_low, dtype=np.float32).reshape(-1)
        self.action_high = np.asarray(action_high, dtype=np.float32).reshape(-1)
        self.action_dim = int(self.action_low.shape[0])
        if self.action_dim != meta.action_dim:
            raise JepaworldError(
                f"the env has {self.action_dim}-dim actions but the model was trained on {meta.action_dim}-dim ones"
            )
        self.device = next(model.parameters()).device
        self.precision = resolve_precision(cfg.precision, self.device)  # "auto" -> what the device runs natively
        self.generator = torch.Generator(device="cpu").manual_seed(seed)
        fs = self.frameskip
        lo, hi = (np.tile(self.normalizer.normalize_action(b), fs) for b in (self.action_low, self.action_high))
        self.bounds = (torch.as_tensor(lo, device=self.device), torch.as_tensor(hi, device=self.device))
        self.every = max(1, min(cfg.receding, cfg.horizon))  # blocks executed per plan
        self.plan_times: list[float] = []  # seconds of every plan made, all episodes
        self.goal_obs: np.ndarray | None = None

    # ------------------------------------------------------------------------ episode state
    def reset(self, goal_obs: np.ndarray) -> None:
        """Start new episode(s) toward goal images: uint8 (H, W, 3) for one env or (B, H, W, 3)."""
        goal_obs = np.asarray(goal_obs)
        self.single = goal_obs.ndim == 3
        self.goal_obs = goal_obs[None] if self.single else goal_obs
        self._check_frames(self.goal_obs, "goal_obs")
        self.z_goal = self._encode(self.goal_obs)  # (B, D)
        self.z_hist: torch.Tensor | None = None  # (B, h, D) once the first frame is seen
        self.hist_blocks: torch.Tensor | None = None  # (B, h-1, fs*A) blocks between history frames
        self._plan: np.ndarray | None = None  # (B, horizon * fs, A) raw actions of the current plan
        self._prev: torch.Tensor | None = None  # (B, horizon, fs*A) its normalised blocks (warm start)
        self._used = 0  # blocks of the current plan handed out
        self._last: np.ndarray | None = None  # (B, fs, A) the block handed out last
        self.plans = 0  # plans made this episode
        self.last_cost: np.ndarray | None = None  # (B,) the planner's cost of the current plan

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        """The frame now -> the next block of raw actions: (fs, A), or (B, fs, A) for a batch.

        Call it once per block, with the frame seen after executing every action of the block it
        returned last; re-plans every ``cfg.receding`` blocks, warm-started. ``active`` (the controller
        protocol's, ``jepaworld.control``) is not used: every row is planned, finished or not.
        """
        return act_together([self], [obs])[0]

    def observe(self, obs: np.ndarray) -> torch.Tensor:
        """The first half of ``act``: encode the frame(s) now into the history; returns their embeddings
        (B, D), e.g. for a caller that picks the goal from them (``retarget``) before ``decide()``."""
        _observe_together([self], [self._as_batch(obs)])
        return _history(self)[0][:, -1]

    def decide(self) -> np.ndarray:
        """The second half of ``act``: re-plan if due, then hand out the next block (fs, A) or (B, fs, A)."""
        if self._due():
            _replan_together([self])
        return self._next_block()

    def plan_once(self, obs: np.ndarray, goal_obs: np.ndarray) -> np.ndarray:
        """One open-loop plan from a frame toward a goal: raw actions (horizon * fs, A) or (B, ...)."""
        self.reset(goal_obs)
        _observe_together([self], [self._as_batch(obs)])
        _replan_together([self])
        actions, self._plan = self._plan, None  # open loop: a later act() plans again, warm-started
        if actions is None:
            raise JepaworldError("plan_once: the planner made no plan")  # _replan_together always makes one
        return actions[0] if self.single else actions

    def retarget(self, z_goal: torch.Tensor) -> None:
        """Point the running loop at new goal embeddings z_goal (B, D) (or (D,) for one env), e.g. a memory
        route's next subgoal; the history and the warm start are kept, the next plan uses the new goal."""
        if self.goal_obs is None:
            raise JepaworldError("call reset(goal_obs) before retarget(z_goal)")
        z_goal = z_goal.reshape(self.z_goal.shape) if z_goal.numel() == self.z_goal.numel() else z_goal
        if z_goal.shape != self.z_goal.shape:
            raise JepaworldError(
                f"retarget: expected goal embeddings {tuple(self.z_goal.shape)}, got {tuple(z_goal.shape)}"
            )
        self.z_goal = z_goal.to(self.device, torch.float32)

    @property
    def current_plan(self) -> np.ndarray | None:
        """Raw actions (horizon * fs, A) (or (B, ...)) of the plan ``act`` hands blocks out of; None before one."""
        if self._plan is None:
            return None
        return self._plan[0] if self.single else self._plan

    def plan_latent(
        self,
        z_hist: torch.Tensor,
        z_goal: torch.Tensor,
        hist_blocks: torch.Tensor | None = None,
        init: torch.Tensor | None = None,
    ) -> PlanResult:
        """One plan of ``horizon`` blocks for N rows that the caller tracks itself (e.g. only the rows
        of a batch that need one), with this controller's planner, bounds and noise generator.

        z_hist (N, history, D), z_goal (N, D), hist_blocks (N, history-1, fs*A) (zeros if None),
        init (N, horizon, fs*A): the normalised plan to start from (zeros if None). The result's
        ``actions`` are normalised blocks; the time goes into ``plan_times``. The closed loop's own
        state (history, current plan, warm start) is left as it is.
        """
        result, seconds = _search(self, z_hist, z_goal, hist_blocks, init, self.generator)
        self.plan_times.append(seconds)
        return result

    # ------------------------------------------------------------------------------ internals
    def _check_frames(self, frames: np.ndarray, name: str) -> None:
        res = self.meta.resolution
        if frames.ndim != 4 or frames.shape[1:] != (res, res, 3) or frames.dtype != np.uint8:
            raise JepaworldError(
                f"{name}: expected uint8 frames of shape (H, W, 3) = ({res}, {res}, 3) (or a batch of them) as "
                f"this checkpoint was trained on, got {frames.dtype} {tuple(frames.shape)}; render the env at "
                f"resolution {res}"
            )

    @torch.no_grad()  # not inference mode: the gradient planner differentiates costs built on these
    def _encode(self, pixels: np.ndarray) -> torch.Tensor:
        """pixels uint8 (B, H, W, 3) -> z (B, D)."""
        x = torch.as_tensor(np.ascontiguousarray(pixels), device=self.device)
        return self.model.encode(x[:, None])[:, 0]

    def _as_batch(self, obs: np.ndarray) -> np.ndarray:
        """A frame (or a batch) given to act -> uint8 (B, H, W, 3) matching the goal images."""
        if self.goal_obs is None:
            raise JepaworldError("call reset(goal_obs) before act(obs)")
        obs = np.asarray(obs)
        batch = obs[None] if self.single else obs
        if batch.shape != self.goal_obs.shape:
            raise JepaworldError(
                f"obs {tuple(obs.shape)} must match the goal images "
                f"{tuple(self.goal_obs.shape[1:] if self.single else self.goal_obs.shape)} given to reset()"
            )
        self._check_frames(batch, "obs")
        return batch

    def _push(self, z: torch.Tensor) -> None:
        """Append the embedding z (B, D) of a new frame (and the block executed before it) to the history."""
        B = len(z)
        if self.z_hist is None or self.hist_blocks is None:  # the first frame stands in for the past
            self.z_hist = z[:, None].repeat(1, self.history, 1)
            self.hist_blocks = torch.zeros(B, self.history - 1, self.frameskip * self.action_dim, device=self.device)
            return
        self.z_hist = torch.cat([self.z_hist[:, 1:], z[:, None]], dim=1)
        if self.history > 1 and self._last is not None:
            block = self.normalizer.normalize_action(self._last).reshape(B, -1)
            block_t = torch.as_tensor(block, dtype=torch.float32, device=self.device)
            self.hist_blocks = torch.cat([self.hist_blocks[:, 1:], block_t[:, None]], dim=1)

    def _due(self) -> bool:
        """Whether the next act must plan (no plan yet, or ``receding`` blocks of it handed out)."""
        return self._plan is None or self._used >= self.every

    def _warm_init(self) -> torch.Tensor | None:
        """The shifted previous plan (B, horizon, fs*A) to start the next plan from, or None."""
        if self.cfg.warm_start and self._prev is not None and self._used < self.cfg.horizon:
            return shift_plan(self._prev, self._used)
        return None

    def _take_plan(self, blocks: torch.Tensor, cost: torch.Tensor, seconds: float) -> None:
        """Adopt a new plan: normalised blocks (B, horizon, fs*A) and their cost (B,)."""
        self.plan_times.append(seconds)
        self.plans += 1
        self._prev = blocks
        self.last_cost = cost.detach().cpu().numpy()
        B, H = blocks.shape[:2]
        raw = self.normalizer.denormalize_action(blocks.reshape(B, H * self.frameskip, self.action_dim).cpu().numpy())
        self._plan = np.clip(raw, self.action_low, self.action_high).astype(np.float32)
        self._used = 0

    def _next_block(self) -> np.ndarray:
        """Hand out the next block of the current plan: (fs, A) or (B, fs, A)."""
        fs = self.frameskip
        if self._plan is None:
            raise JepaworldError("no plan to hand a block out of; act() plans before it hands blocks out")
        self._last = self._plan[:, self._used * fs : (self._used + 1) * fs]
        self._used += 1
        return self._last[0] if self.single else self._last


def act_together(controllers: Sequence[LatentMPC], frames: Sequence[np.ndarray]) -> list[np.ndarray]:
    """``[c.act(f) for c, f in zip(controllers, frames)]``, with one encoder call and one planner call.

    The controllers are independent closed loops (each its own goal, history, warm start and noise
    generator) of one model, one ``PlanConfig`` and one action box; every one that is due to re-plan
    is planned in the same batched ``plan()`` call, drawing its noise from its own generator
    (``RowGenerators``). ``mpc.act(obs)`` is ``act_together([mpc], [obs])[0]``.
    """
    if not controllers:
        return []
    _check_together(controllers)
    batches = [c._as_batch(f) for c, f in zip(controllers, frames, strict=True)]
    _observe_together(controllers, batches)
    _replan_together([c for c in controllers if c._due()])
    return [c._next_block() for c in controllers]


def _history(c: LatentMPC) -> tuple[torch.Tensor, torch.Tensor]:
    """``c``'s latent history (B, h, D) and the blocks between its frames (B, h-1, fs*A)."""
    if c.z_hist is None or c.hist_blocks is None:
        raise JepaworldError("no frame seen yet: call act(obs) (or observe(obs)) after reset(goal_obs)")
    return c.z_hist, c.hist_blocks


def _check_together(controllers: Sequence[LatentMPC]) -> None:
    lead = controllers[0]
    if len({id(c) for c in controllers}) != len(controllers):
        raise JepaworldError("act_together: a controller appears twice; give each one frame per call")
    for c in controllers[1:]:
        if c.model is not lead.model or c.cfg != lead.cfg or not all(
            torch.equal(a, b) for a, b in zip(c.bounds, lead.bounds, strict=True)
        ):
            raise JepaworldError(
                "act_together plans controllers in one call: they must share the model, the PlanConfig and the "
                "action box; group them by planner settings"
            )


def _observe_together(controllers: Sequence[LatentMPC], batches: Sequence[np.ndarray]) -> None:
    """Encode every controller's new frames (B_i, H, W, 3) in one call and append them to its history."""
    pixels = batches[0] if len(batches) == 1 else np.concatenate(batches)
    z = controllers[0]._encode(pixels)
    for c, z_c in zip(controllers, z.split([len(b) for b in batches]), strict=True):
        c._push(z_c)


def _replan_together(controllers: Sequence[LatentMPC]) -> None:
    """Plan ``horizon`` blocks for every controller toward its goal, in one planner call."""
    if not controllers:
        return
    lead = controllers[0]
    cfg, fs, A = lead.cfg, lead.frameskip, lead.action_dim
    sizes = [len(c.z_goal) for c in controllers]

    def rows(tensors: list[torch.Tensor]) -> torch.Tensor:
        return tensors[0] if len(tensors) == 1 else torch.cat(tensors)

    histories = [_history(c) for c in controllers]
    z_hist, z_goal = rows([h for h, _ in histories]), rows([c.z_goal for c in controllers])
    hist_blocks = rows([b for _, b in histories])
    inits = [c._warm_init() for c in controllers]
    init = None
    if any(i is not None for i in inits):
        init = rows([
            i if i is not None else torch.zeros(n, cfg.horizon, fs * A, device=lead.device)
            for i, n in zip(inits, sizes, strict=True)
        ])  # fmt: skip
    generator = (
        lead.generator if len(controllers) == 1 else RowGenerators(tuple((c.generator, n) for c, n in
                                                                         zip(controllers, sizes, strict=True)))
    )  # fmt: skip

    result, seconds = _search(lead, z_hist, z_goal, hist_blocks, init, generator)
    blocks, cost = result.actions.detach(), result.cost.detach()
    for c, b, k in zip(controllers, blocks.split(sizes), cost.split(sizes), strict=True):
        c._take_plan(b, k, seconds)


def _search(
    lead: LatentMPC,
    z_hist: torch.Tensor,
    z_goal: torch.Tensor,
    hist_blocks: torch.Tensor | None,
    init: torch.Tensor | None,
    generator: NoiseSource,
) -> tuple[PlanResult, float]:
    """One call of ``lead``'s planner on the latent cost toward ``z_goal`` for N rows -> (result, seconds)."""
    cfg = lead.cfg

    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        return lead.model.cost(
            z_hist, z_goal, actions, mode=cfg.cost, hist_blocks=hist_blocks, precision=lead.precision
        )

    problem = PlanProblem(len(z_goal), cfg.horizon, lead.frameskip, lead.action_dim, bounds=lead.bounds,
                          device=lead.device)  # fmt: skip
    t0 = time.perf_counter()
    result = plan(cost_fn, problem, cfg, init=init, generator=generator)
    return result, time.perf_counter() - t0
