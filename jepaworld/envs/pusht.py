"""Push-T: push a T-shaped block with a round agent (pymunk >= 7 physics, numpy rendering).

Physics as in gym-pusht and the world-model benchmarks built on it:
a 512 x 512 space with four static walls (segments from 5 to 506, radius 2), no gravity; a
kinematic circular agent (radius 15) driven by a PD controller (kp 100, kv 20) toward a target;
control at 10 Hz with 10 physics sub-steps of 0.01 s, the PD acceleration recomputed each sub-step.
The action is a *relative* displacement in [-1, 1]^2: target = agent + 100 px * action, clipped to
where the agent's centre may be (:data:`AGENT_LO`..:data:`AGENT_HI`). The T block is one dynamic
body of mass 1 made of two boxes: a 120 x 30 bar over a 30 x 90 stem, its origin (the block's
``x, y``) at the middle of the bar's outer edge, its centre of gravity the mean of the two boxes'
centres, ``(0, 45)`` in block coordinates.

Choices, and why:

- ``space.damping = 0``, as gym-pusht, diffusion-policy and DINO-WM set it: every body loses all
  of its velocity each sub-step (``0 ** dt``), so the block moves only while it is pushed, like a
  heavy block on a table. Only the pushing contact moves it.
- Friction: the common implementation writes ``body.friction = 1``, an attribute pymunk ignores,
  so its contacts are frictionless (shape friction defaults to 0). ``friction`` (default
  :data:`FRICTION`) sets the shapes' friction here; 0 reproduces the benchmarks' dynamics.
- Moment of inertia: the common implementation adds the bar's moment about the block origin to
  itself (its stem term reuses the bar's vertices), 2 x 1500 = 3000; kept for the same dynamics.
- ``set_state`` sets the angle before the position (the block's origin lands exactly on the given
  ``x, y``) and rebuilds the space, so the future depends on the state only, not on the history.
- Squeezing: the agent is kinematic (infinitely strong), so in the common implementation it can
  press the block deep into a wall (or sink into a block held by a wall) until the solver shoots
  the block out through the wall. Here a sub-step that presses the T more than
  :data:`SQUEEZE_PX` past a wall's inner face, or, with the T at a wall, sinks the agent more than
  :data:`OVERLAP_PX` into it, is undone and the agent stops: the wall stops the block, and the
  block stops the agent. Free pushes are unchanged, and every state the env produces passes
  ``set_state``'s checks.
- The agent is kinematic: pymunk never stops it at a wall, so each sub-step clamps its centre to
  the arena (and zeroes the outward velocity). The common implementation lets it pass through.

State (float32, 7): agent x, y; block x, y; block angle (radians, wrapped to [0, 2*pi)); agent
velocity x, y (px/s). ``set_state`` also accepts the first 5 (velocity 0). The classic goal pose is
block ``(256, 256, pi/4)``, agent ``(256, 400)``. Frames are drawn with numpy at any square
resolution (default 64): light background, grey T, blue agent, edges anti-aliased by a one-pixel
ramp on the distance to each shape; the goal is not drawn (a goal is an image,
``render_state(goal)``). ``info["coverage"]`` is the exact area shared by the block's T and the
goal's T over the T's area (convex polygon clipping), the classic task's reward.

The pure geometry (walls, the T, distances, overlap) is in :mod:`jepaworld.envs.pusht_geometry`; this module
re-exports it, so ``jepaworld.envs.pusht`` keeps every public name.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from jepaworld.envs.goal import GoalTask
from jepaworld.envs.pusht_geometry import (
    BAR,
    BOUND_RADIUS,
    CANVAS,
    COG,
    STEM,
    T_AREA,
    WALL_HI,
    WALL_LO,
    WALL_RADIUS,
    box_corners,
    cog,
    coverage,
    overlap_area,
    rotation,
    t_corners,
    t_distance,
    t_distance_xy,
    wall_penetration,
)
from jepaworld.envs.state import Quantity, StateLayout, Teleport, wrap_angle
from jepaworld.errors import JepaworldError

if TYPE_CHECKING:
    import pymunk

__all__ = [  # the geometry (pusht_geometry.py) is re-exported: jepaworld.envs.pusht stays the one import
    "ACTION_SCALE", "AGENT_COLOUR", "AGENT_HI", "AGENT_LO", "AGENT_RADIUS", "BACKGROUND", "BAR", "BLOCK_COLOUR",
    "BOUND_RADIUS", "CANVAS", "COG", "DT", "DYNAMICS", "FRICTION", "GOAL_AGENT", "GOAL_POSE", "KP", "KV", "LAYOUT",
    "MASS", "MOMENT", "OVERLAP_PX", "SQUEEZE_PX", "STEM", "SUBSTEPS", "SUCCESS_ANGLE", "SUCCESS_PX", "T_AREA",
    "WALL_HI", "WALL_LO", "WALL_RADIUS", "PushTEnv", "agent_clear_of_block", "angle_error", "box_corners",
    "build_space", "checked_state", "cog", "coverage", "displace_block", "goal_distance", "is_success",
    "overlap_area", "rotation", "sample_state", "t_corners", "t_distance", "t_distance_xy", "wall_penetration",
    "wrap_angle",
]


DYNAMICS = "frictionless-wall-stop"  # recorded in collected files: data of other dynamics is refused
SQUEEZE_PX = 1.5  # how far the agent may press the block into a wall (see the module docstring)
OVERLAP_PX = 3.0  # how far the agent overlaps the block while pushing it freely (99th percentile ~2.6)
AGENT_RADIUS = 15.0
AGENT_LO = WALL_LO + WALL_RADIUS + AGENT_RADIUS  # 22: range of the agent's centre
AGENT_HI = WALL_HI - WALL_RADIUS - AGENT_RADIUS  # 489
KP, KV = 100.0, 20.0
DT = 0.01
SUBSTEPS = 10
ACTION_SCALE = 100.0  # px per unit of action
MASS = 1.0
MOMENT = 3000.0  # see the module docstring
FRICTION = 0.0

GOAL_POSE = np.array([256.0, 256.0, math.pi / 4])
GOAL_AGENT = np.array([256.0, 400.0])
SUCCESS_PX = 20.0
SUCCESS_ANGLE = math.pi / 9

BACKGROUND = np.array([240, 240, 240], np.float32)
BLOCK_COLOUR = np.array([119, 136, 153], np.float32)  # LightSlateGray
AGENT_COLOUR = np.array([65, 105, 225], np.float32)  # RoyalBlue


def goal_distance(state: np.ndarray, goal: np.ndarray) -> float:
    """Euclidean norm over (agent x, y, block x, y) of ``state - goal``: what success thresholds."""
    s, g = np.asarray(state, np.float64), np.asarray(goal, np.float64)
    return float(np.linalg.norm(s[:4] - g[:4]))


def angle_error(state: np.ndarray, goal: np.ndarray) -> float:
    """Absolute wrapped block-angle difference in [0, pi]."""
    return abs(float(wrap_angle(float(state[4]) - float(goal[4]))))


def is_success(state: np.ndarray, goal: np.ndarray) -> bool:
    """As published: :func:`goal_distance` < 20 and :func:`angle_error` < pi/9."""
    return goal_distance(state, goal) < SUCCESS_PX and angle_error(state, goal) < SUCCESS_ANGLE


def sample_state(rng: np.random.Generator) -> np.ndarray:
    """A random start ``(7,)``: block pose with the T inside the walls, agent clear of the T, at rest."""
    margin = WALL_LO + WALL_RADIUS + 3.0
    while True:
        agent = rng.uniform(50.0, 450.0, 2)
        pose = np.array([*rng.uniform(100.0, 400.0, 2), rng.uniform(-math.pi, math.pi)])
        corners = t_corners(pose)
        inside = corners.min() >= margin and corners.max() <= CANVAS - margin
        if inside and t_distance(agent[None], pose)[0] > AGENT_RADIUS + 5.0:
            return np.array([*agent, *pose[:2], pose[2] % (2 * math.pi), 0.0, 0.0], np.float32)


def checked_state(state: Any) -> np.ndarray:
    """``state`` as float32 ``(7,)`` (5 values get velocity 0); :class:`JepaworldError` if invalid."""
    s = np.asarray(state, np.float64).reshape(-1)
    if s.shape not in ((5,), (7,)) or not np.all(np.isfinite(s)):
        raise JepaworldError(
            "Push-T state must be 5 or 7 finite numbers (agent x, y, block x, y, block angle in radians"
            f"[, agent velocity x, y]), got {state!r}"
        )
    if s[:4].min() < WALL_LO or s[:4].max() > WALL_HI:
        raise JepaworldError(
            f"Push-T state {s.tolist()} is outside the arena: agent and block x, y must lie inside the "
            f"walls, in [{WALL_LO}, {WALL_HI}] (the agent's centre is kept in [{AGENT_LO}, {AGENT_HI}])"
        )
    reach = wall_penetration(float(s[2]), float(s[3]), float(s[4]))
    if reach > SQUEEZE_PX + 0.5:
        raise JepaworldError(
            f"Push-T state {s.tolist()}: the T at block pose (x, y, angle) = {s[2:5].tolist()} reaches "
            f"{reach:.1f} px past a wall's inner face ({WALL_LO + WALL_RADIUS} and {WALL_HI - WALL_RADIUS}); "
            "the whole T must lie inside the walls"
        )
    out = np.zeros(7, np.float32)
    out[: len(s)] = s
    return out


# -- physics (pymunk, imported lazily) ---------------------------------------------------------
def _pymunk():
    try:
        import pymunk
    except ImportError:
        raise JepaworldError("Push-T needs pymunk: install it with pip install -e '.[pusht]'") from None
    return pymunk


def build_space(state: np.ndarray, friction: float) -> tuple[pymunk.Space, pymunk.Body, pymunk.Body]:
    """A fresh space at ``state (7,)``: returns ``(space, agent body, block body)``."""
    pymunk = _pymunk()
    space = pymunk.Space()
    space.gravity = (0.0, 0.0)
    space.damping = 0.0
    lo, hi = WALL_LO, WALL_HI
    for a, b in (((lo, lo), (hi, lo)), ((hi, lo), (hi, hi)), ((hi, hi), (lo, hi)), ((lo, hi), (lo, lo))):
        space.add(pymunk.Segment(space.static_body, a, b, WALL_RADIUS))
    agent = pymunk.Body(body_type=pymunk.Body.KINEMATIC)
    agent_shape = pymunk.Circle(agent, AGENT_RADIUS)
    agent_shape.friction = friction
    agent.position = (float(state[0]), float(state[1]))
    agent.velocity = (float(state[5]), float(state[6]))
    block = pymunk.Body(MASS, MOMENT)
    shapes = [pymunk.Poly(block, box_corners(box).tolist()) for box in (BAR, STEM)]
    for shape in shapes:
        shape.friction = friction
    block.center_of_gravity = (float(COG[0]), float(COG[1]))
    block.angle = float(state[4])  # the angle first: it turns the body about its centre of gravity
    block.position = (float(state[2]), float(state[3]))
    space.add(agent, agent_shape, block, *shapes)
    return space, agent, block


def agent_clear_of_block(state: np.ndarray) -> bool:
    """The agent does not overlap the block (5 px of clearance): a teleported block must leave it so."""
    s = np.asarray(state)
    return bool(t_distance(s[None, :2].astype(np.float64), s[2:5].astype(np.float64))[0] > AGENT_RADIUS + 5.0)


def displace_block(state: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``state`` with the block at a random pose inside the walls, clear of the agent, at rest (evaluation's
    ``teleport``)."""
    margin = WALL_LO + WALL_RADIUS + 3.0
    out = np.array(state, np.float32, copy=True)
    for _ in range(10_000):
        pose = np.array([*rng.uniform(100.0, 400.0, 2), rng.uniform(-math.pi, math.pi)])
        corners = t_corners(pose)
        inside = corners.min() >= margin and corners.max() <= CANVAS - margin
        if inside and t_distance(out[None, :2].astype(np.float64), pose)[0] > AGENT_RADIUS + 5.0:
            out[2:5] = [pose[0], pose[1], pose[2] % (2 * math.pi)]
            if len(out) > 5:
                out[5:] = 0.0
            return out
    raise JepaworldError("no block pose clear of the agent was found")


LAYOUT = StateLayout(
    quantities=(
        Quantity("agent position", (0, 1), ("agent x", "agent y")),
        Quantity("block position", (2, 3), ("block x", "block y")),
        Quantity("block angle", (4,), ("sin angle", "cos angle"), angle=True),
    ),
    entities={"agent": ([0, 1], ["x", "y"]), "block": ([2, 3, 4], ["x", "y", "angle"])},
    teleport=Teleport("block", (2, 3, 4), (2, 3), clear=agent_clear_of_block),
    perturb=(displace_block, "the block is displaced to a random pose inside the walls, clear of the agent"),
)


class PushTEnv(GoalTask, gym.Env):
    """Gymnasium env; observations are rendered frames ``uint8 (res, res, 3)``.

    ``reset(options={"state": (5|7,), "goal": (5|7,)})`` places the agent, block and goal (random
    start and the classic goal otherwise). ``info`` carries ``state`` (7,) float32, ``goal`` (7,),
    ``success`` (:func:`is_success`) and ``coverage``. Episodes never terminate on their own.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    success_test, distance = staticmethod(is_success), staticmethod(goal_distance)

    def __init__(self, resolution: int = 64, render_mode: str | None = "rgb_array", friction: float = FRICTION):
        if resolution < 8:
            raise JepaworldError(f"resolution must be >= 8 pixels, got {resolution}")
        self.resolution = int(resolution)
        self.render_mode = render_mode
        self.friction = float(friction)
        self.observation_space = gym.spaces.Box(0, 255, (resolution, resolution, 3), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self._scale = resolution / CANVAS
        self._centres = (np.arange(resolution, dtype=np.float32) + 0.5) / self._scale  # canvas units
        self._goal = np.array([*GOAL_AGENT, *GOAL_POSE, 0.0, 0.0], np.float32)
        self.set_state(np.array([*GOAL_AGENT, *GOAL_POSE], np.float32))

    # -- Gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        state = options.get("state")
        self.set_state(sample_state(self.np_random) if state is None else state)
        goal = options.get("goal")
        self._goal = np.array([*GOAL_AGENT, *GOAL_POSE, 0.0, 0.0], np.float32) if goal is None else checked_state(goal)
        return self.render(), self._info()

    def step(self, action):
        a = np.asarray(action, np.float64).reshape(2)
        if not np.all(np.isfinite(a)):
            raise JepaworldError(f"action must be 2 finite numbers, got {action!r}")
        a = np.clip(a, -1.0, 1.0)
        agent = self._agent
        tx, ty = np.clip(np.asarray(agent.position) + ACTION_SCALE * a, AGENT_LO, AGENT_HI)
        block = self._block
        wall = wall_penetration(*block.position, block.angle)
        for _ in range(SUBSTEPS):
            (px, py), (vx, vy), (bx, by), angle = agent.position, agent.velocity, block.position, block.angle
            agent.velocity = (vx + (KP * (tx - px) - KV * vx) * DT, vy + (KP * (ty - py) - KV * vy) * DT)
            self._space.step(DT)
            now = wall_penetration(*block.position, block.angle)
            if self._pressed(now, wall, (px, py, bx, by, angle)):  # against a wall: undo, stop the agent
                agent.position, agent.velocity = (px, py), (0.0, 0.0)
                block.angle, block.position = angle, (bx, by)
                block.velocity, block.angular_velocity = (0.0, 0.0), 0.0
            else:
                wall = now
            self._keep_inside()
        return self.render(), 0.0, False, False, self._info()

    def render(self) -> np.ndarray:
        return self.render_state(self.get_state())

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        (ax, ay), (bx, by), (vx, vy) = self._agent.position, self._block.position, self._agent.velocity
        return np.array([ax, ay, bx, by, self._block.angle % (2 * math.pi), vx, vy], np.float32)

    def set_state(self, state) -> None:
        """Place agent and block (a fresh space: the block starts at rest, contacts start anew)."""
        self._space, self._agent, self._block = build_space(checked_state(state), self.friction)

    def _pressed(self, wall: float, wall_before: float, before: tuple[float, ...]) -> bool:
        """Whether the last sub-step pressed the block into a wall: it pushed the T further than
        ``SQUEEZE_PX`` past one, or, with the T at a wall, pushed the agent further than
        ``OVERLAP_PX`` into the T. ``before``: agent x, y and block x, y, angle before the sub-step."""
        if wall > SQUEEZE_PX and wall > wall_before:
            return True
        if wall < -1.0:
            return False
        (ax, ay), (x, y), angle = self._agent.position, self._block.position, self._block.angle
        overlap = AGENT_RADIUS - t_distance_xy(ax, ay, x, y, angle)
        return overlap > OVERLAP_PX and overlap > AGENT_RADIUS - t_distance_xy(*before)

    def _keep_inside(self) -> None:
        (px, py), (vx, vy) = self._agent.position, self._agent.velocity
        cx, cy = min(max(px, AGENT_LO), AGENT_HI), min(max(py, AGENT_LO), AGENT_HI)
        if (cx, cy) != (px, py):
            self._agent.position = (cx, cy)
            self._agent.velocity = (vx if cx == px else 0.0, vy if cy == py else 0.0)

    # -- rendering --------------------------------------------------------------------------
    def render_state(self, state) -> np.ndarray:
        """The frame ``uint8 (res, res, 3)`` of any ``state`` (5 or 7 values); the simulation is untouched."""
        s = np.asarray(state, np.float64).reshape(-1)
        img = np.empty((self.resolution, self.resolution, 3), np.float32)
        img[...] = BACKGROUND
        self._draw_block(img, s[2:5])
        self._draw_agent(img, s[0], s[1])
        return (img + 0.5).astype(np.uint8)

    def _window(self, lo: float, hi: float) -> slice:
        """Pixel indices whose centres may lie within ``[lo, hi]`` canvas units (plus one pixel)."""
        res, k = self.resolution, self._scale
        return slice(max(int(lo * k) - 1, 0), min(int(math.ceil(hi * k)) + 1, res))

    def _draw_block(self, img: np.ndarray, pose: np.ndarray) -> None:
        corners = t_corners(pose).reshape(-1, 2)
        xs = self._window(corners[:, 0].min(), corners[:, 0].max())
        ys = self._window(corners[:, 1].min(), corners[:, 1].max())
        if xs.start >= xs.stop or ys.start >= ys.stop:
            return
        c, s = math.cos(float(pose[2])), math.sin(float(pose[2]))
        dx = (self._centres[xs] - np.float32(pose[0]))[None, :]
        dy = (self._centres[ys] - np.float32(pose[1]))[:, None]
        u, v = c * dx + s * dy, -s * dx + c * dy  # block coordinates of pixel centres
        # Box distance max(|u - cu| - hu, |v - cv| - hv); the stem runs up into the bar (v from 15) so
        # the union has no seam. One pixel of linear falloff across the edge anti-aliases.
        bar = np.maximum(np.abs(u) - 60.0, np.abs(v - 15.0) - 15.0)
        stem = np.maximum(np.abs(u) - 15.0, np.abs(v - 67.5) - 52.5)
        alpha = np.clip(0.5 - np.minimum(bar, stem) * self._scale, 0.0, 1.0)[..., None]
        patch = img[ys, xs]
        patch += alpha * (BLOCK_COLOUR - patch)

    def _draw_agent(self, img: np.ndarray, x: float, y: float) -> None:
        xs = self._window(x - AGENT_RADIUS, x + AGENT_RADIUS)
        ys = self._window(y - AGENT_RADIUS, y + AGENT_RADIUS)
        if xs.start >= xs.stop or ys.start >= ys.stop:
            return
        dx = (self._centres[xs] - np.float32(x))[None, :]
        dy = (self._centres[ys] - np.float32(y))[:, None]
        alpha = np.clip(0.5 + (AGENT_RADIUS - np.sqrt(dx * dx + dy * dy)) * self._scale, 0.0, 1.0)[..., None]
        patch = img[ys, xs]
        patch += alpha * (AGENT_COLOUR - patch)

    def _info(self) -> dict[str, Any]:
        info = super()._info()
        return {**info, "coverage": coverage(info["state"], self._goal)}
