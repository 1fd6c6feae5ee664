"""Push-T's scripted expert: push the block toward nearby random poses, from the right side.

Each *task* is a push (probability ``1 - wander``) or a wander. A push samples a target block pose
near the current one: a translation of 30-100 px (three times in four away from a face next to
the agent, so that it seldom has to walk around first; otherwise any way), a rotation of up to
+-45 degrees, the whole T kept inside the walls. The push direction ``d`` is the line from the
block's centre of gravity to the target's, fixed for the task. The expert picks a contact on a
face of the T whose outward normal opposes ``d`` (within 45 degrees: contacts are frictionless in
the common physics, so the block moves along the face's normal), placed along the face so that
pushing there turns the block toward the target angle, and never one that would press the block
into a wall. It walks to the contact (around the block, through waypoints outside its bounding
circle, when the straight path would cut through it), then pushes the face straight on, at a
speed drawn per task. The contact stays fixed on the block while pushing (it turns with the
block). The task ends when the block's centre of gravity has come level with the target's along
``d``, when the face no longer opposes ``d`` or the agent has slipped off it, or after 60 steps. A
wander goes to a random point within 100 px of the block's centre of gravity for up to 12 steps
(contacts from every side, pushes that are not goal-directed). Gaussian noise of std ``noise`` is
added to every action.

All geometry is block-pose arithmetic on the state; the policy never touches the simulator.
"""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np

from jepaworld.envs import pusht as pt

_APPROACH = pt.BOUND_RADIUS + pt.AGENT_RADIUS + 12.0  # radius of the circle the agent walks around on
_STANDOFF = 6.0  # px between the agent's edge and the face where the approach aims
_PUSH_DEPTH = (20.0, 60.0)  # px beyond the face where a push aims, drawn per task: sets the speed
_IN_POSITION = 10.0  # px across a face's line within which the agent may walk on into a push
_LOST = 20.0  # px from the touching point at which a push has lost its contact
_TURN_GAIN = 60.0  # wanted lever (px) per radian of angle error
_MAX_LEVER = 50.0
_FACING, _STILL_FACING = -0.7, -0.3  # cos between face normal and d: to pick a face, to keep it
_AHEAD = 0.75  # probability that a push starts at a face next to the agent (the rest: any way)
_DONE_PX = 5.0
_PUSH_STEPS, _WANDER_STEPS = 60, 12
_TARGET_MARGIN = 25.0  # px between a target T and the walls


def _faces() -> tuple[np.ndarray, np.ndarray]:
    """Contact candidates in block coordinates: points ``(M, 2)`` on the T's faces where the agent
    can touch (off the corners; clear of the concave corners under the bar) and outward normals."""
    r = pt.AGENT_RADIUS
    spans = [  # (fixed coordinate axis, value, range along the face, normal)
        (1, 0.0, (-52.0, 52.0), (0.0, -1.0)),  # bar, outer edge
        (1, 30.0, (-52.0, -15.0 - r - 2.0), (0.0, 1.0)),  # bar, inner edge, left of the stem
        (1, 30.0, (15.0 + r + 2.0, 52.0), (0.0, 1.0)),  # ... right of the stem
        (0, -60.0, (8.0, 22.0), (-1.0, 0.0)),  # bar ends
        (0, 60.0, (8.0, 22.0), (1.0, 0.0)),
        (0, -15.0, (30.0 + r + 2.0, 112.0), (-1.0, 0.0)),  # stem sides
        (0, 15.0, (30.0 + r + 2.0, 112.0), (1.0, 0.0)),
        (1, 120.0, (-7.0, 7.0), (0.0, 1.0)),  # stem end
    ]
    points, normals = [], []
    for axis, value, (lo, hi), normal in spans:
        for s in np.linspace(lo, hi, max(int((hi - lo) / 4.0), 1) + 1):
            points.append((value, s) if axis == 0 else (s, value))
            normals.append(normal)
    return np.array(points), np.array(normals)


_POINTS, _NORMALS = _faces()
_SIDES, _SIDE_OF = np.unique(_NORMALS, axis=0, return_inverse=True)  # the 4 normals; each point's


def into_wall(pose: np.ndarray, direction: np.ndarray) -> bool:
    """Whether moving the block at ``pose`` 10 px along ``direction`` would press it into a wall
    (the env then stops the agent: a stuck push)."""
    x, y = np.asarray(pose[:2], np.float64) + 10.0 * np.asarray(direction, np.float64)
    return pt.wall_penetration(float(x), float(y), float(pose[2])) > -2.0


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.hypot(v[0], v[1]))
    return v / n if n > 1e-9 else np.array([1.0, 0.0])


def path_blocked(a: np.ndarray, b: np.ndarray, pose: np.ndarray, clearance: float) -> bool:
    """Whether a disc moving from ``a`` to ``b`` comes within ``clearance`` of the T on the way
    (checked from 6 px out: ``a`` may be touching the T already)."""
    length = float(np.hypot(*(b - a)))
    along = np.arange(min(6.0, length), length, 4.0)
    if len(along) == 0:
        return False
    pts = a + along[:, None] * ((b - a) / length)
    return bool((pt.t_distance(pts, pose) < clearance).any())


def target_inside(pose: np.ndarray, margin: float = _TARGET_MARGIN) -> bool:
    """Whether the whole T at ``pose`` lies at least ``margin`` px inside the walls."""
    corners = pt.t_corners(pose)
    return bool(corners.min() >= pt.WALL_LO + margin and corners.max() <= pt.WALL_HI - margin)


def contacts(pose: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """World contact points ``(M, 2)``, outward normals ``(M, 2)`` and where the agent's centre
    touches each ``(M, 2)``, for the block at ``pose``."""
    rot = pt.rotation(float(pose[2]))
    points = _POINTS @ rot.T + np.asarray(pose[:2], np.float64)
    normals = _NORMALS @ rot.T
    return points, normals, points + normals * pt.AGENT_RADIUS


class PushTExpert:
    """``policy(obs, state) -> action (2,)`` float32 in [-1, 1]; see the module docstring.

    ``wander`` is the probability that a task is a wander rather than a push.
    ``push_to(target, block)`` starts a push toward block pose ``target (x, y, angle)``.
    """

    def __init__(self, rng: np.random.Generator, noise: float = 0.3, wander: float = 0.3):
        self.rng, self.noise, self.wander = rng, float(noise), float(wander)
        self.target: np.ndarray | None = None  # block pose (push) or agent point (wander)
        self.pushing = False  # the task is a push (else a wander)
        self.steps_left = 0
        self.direction = np.array([1.0, 0.0])  # of the current push
        self.contact: int | None = None  # index into the contact candidates, while pushing a face
        self.depth = _PUSH_DEPTH[1]  # px beyond the face where this task's pushes aim

    # -- tasks ------------------------------------------------------------------------------
    def push_to(self, target: np.ndarray, block: np.ndarray, steps: int = _PUSH_STEPS) -> None:
        self.target, self.pushing, self.steps_left = np.asarray(target, np.float64), True, steps
        self.direction = _unit(pt.cog(self.target) - pt.cog(np.asarray(block, np.float64)))
        self.contact = None
        self.depth = float(self.rng.uniform(*_PUSH_DEPTH))

    def _new_task(self, state: np.ndarray) -> None:
        pose = state[2:5]
        if self.rng.random() >= self.wander:
            _, normals, touch = contacts(pose)
            near = np.argsort(np.hypot(*(touch - state[:2]).T))[:10]  # faces next to the agent
            for _ in range(20):
                if self.rng.random() < _AHEAD:  # push a face next to the agent: no walk around first
                    n = normals[self.rng.choice(near)]
                    angle = math.atan2(-n[1], -n[0]) + self.rng.normal(0.0, math.radians(20.0))
                else:
                    angle = self.rng.uniform(-math.pi, math.pi)
                shift = self.rng.uniform(30.0, 100.0) * np.array([math.cos(angle), math.sin(angle)])
                target = np.array([*(pose[:2] + shift), pose[2] + self.rng.uniform(-math.pi / 4, math.pi / 4)])
                if target_inside(target):
                    self.push_to(target, pose)
                    if self._choose(pose) is not None:
                        return
        self._wander_near(pose)

    def _wander_near(self, pose: np.ndarray) -> None:
        angle = self.rng.uniform(-math.pi, math.pi)
        point = pt.cog(pose) + self.rng.uniform(0.0, 100.0) * np.array([math.cos(angle), math.sin(angle)])
        self.target = np.clip(point, pt.AGENT_LO, pt.AGENT_HI)
        self.pushing, self.steps_left, self.contact = False, _WANDER_STEPS, None

    def _done(self, state: np.ndarray) -> bool:
        if self.target is None or self.steps_left <= 0:
            return True
        if not self.pushing:
            return bool(np.hypot(*(self.target - state[:2])) < 5.0)
        return bool((pt.cog(self.target) - pt.cog(state[2:5])) @ self.direction < _DONE_PX)

    # -- pushing ----------------------------------------------------------------------------
    def _choose(self, pose: np.ndarray) -> int | None:
        """The contact whose face opposes ``d`` and whose lever best turns the block toward the
        target angle; ``None`` when every such contact is out of the agent's reach."""
        points, normals, touch = contacts(pose)
        standoff = touch + normals * _STANDOFF
        free = np.array([not into_wall(pose, -side @ pt.rotation(float(pose[2])).T) for side in _SIDES])
        reach = np.all((standoff >= pt.AGENT_LO) & (standoff <= pt.AGENT_HI), axis=1)
        ok = (normals @ self.direction < _FACING) & reach & free[_SIDE_OF.reshape(-1)]
        if not ok.any():
            return None
        assert self.target is not None  # a push has a target (push_to)
        arm = points - pt.cog(pose)
        lever = arm[:, 1] * normals[:, 0] - arm[:, 0] * normals[:, 1]  # torque of a unit push along -normal
        wanted = np.clip(_TURN_GAIN * pt.wrap_angle(self.target[2] - pose[2]), -_MAX_LEVER, _MAX_LEVER)
        cost = np.where(ok, np.abs(lever - wanted), np.inf)
        return int(np.argmin(cost))

    def _push_point(self, agent: np.ndarray, pose: np.ndarray) -> np.ndarray | None:
        """Where the agent should head this step, or ``None`` when no contact is reachable."""
        _, normals, touch = contacts(pose)
        k = self.contact
        if k is not None:
            keep = normals[k] @ self.direction < _STILL_FACING and np.hypot(*(agent - touch[k])) < _LOST
            keep = keep and not into_wall(pose, -normals[k])
            if keep:
                return touch[k] - normals[k] * self.depth
            return None  # the face turned away or the agent slipped off it: next task
        k = self._choose(pose)
        if k is None:
            return None
        standoff = touch[k] + normals[k] * _STANDOFF
        rel = agent - touch[k]
        across, out = abs(rel @ np.array([-normals[k][1], normals[k][0]])), rel @ normals[k]
        in_front = across < _IN_POSITION and -3.0 < out < 60.0
        if in_front and not path_blocked(agent, standoff, pose, pt.AGENT_RADIUS + 1.0):  # walk on into a push
            self.contact = k
            return touch[k] - normals[k] * self.depth
        return self._walk(agent, pose, standoff)

    def _walk(self, agent: np.ndarray, pose: np.ndarray, goal: np.ndarray) -> np.ndarray:
        """Next point toward ``goal``, going around the block when the straight path cuts it."""
        if not path_blocked(agent, goal, pose, pt.AGENT_RADIUS + 1.0):
            return goal
        g = pt.cog(pose)
        here, there = math.atan2(*(agent - g)[::-1]), math.atan2(*(goal - g)[::-1])
        turn = float(pt.wrap_angle(there - here))
        step = math.copysign(min(abs(turn), math.radians(40.0)), turn)
        if np.hypot(*(agent - g)) < _APPROACH - 10.0:
            step *= 0.5  # close to the block: mostly step outward first
        way = g + _APPROACH * np.array([math.cos(here + step), math.sin(here + step)])
        return np.clip(way, pt.AGENT_LO, pt.AGENT_HI)

    # -- policy -----------------------------------------------------------------------------
    def _next_point(self, agent: np.ndarray, pose: np.ndarray) -> np.ndarray | None:
        """Where to head this step; ``None`` when the task cannot go on (a lost push, a wander
        that would press the block into a wall)."""
        if self.pushing:
            return self._push_point(agent, pose)
        touching = float(pt.t_distance(agent[None], pose)[0]) < pt.AGENT_RADIUS + 3.0
        return None if touching and into_wall(pose, _unit(self.target - agent)) else self.target

    def __call__(self, obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        state = np.asarray(state, np.float64)
        agent, pose = state[:2], state[2:5]
        if self._done(state):
            self._new_task(state)
        self.steps_left -= 1
        point = self._next_point(agent, pose)
        if point is None:
            self._new_task(state)
            point = self._next_point(agent, pose)
        if point is None:  # nothing to do from here: back off from the block
            point = agent + 30.0 * _unit(agent - pt.cog(pose))
        move = (point - agent) / pt.ACTION_SCALE
        move = move / max(float(np.abs(move).max()), 1.0)  # keep the direction when clipping
        action = move + self.noise * self.rng.standard_normal(2)
        return np.clip(action, -1.0, 1.0).astype(np.float32)


def pusht_expert(env: gym.Env, rng: np.random.Generator, noise: float = 0.3) -> PushTExpert:
    """Policy factory for Push-T's scripted expert (``env`` unused)."""
    return PushTExpert(rng, noise)


def agent_to_goal(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """Baseline: move the agent straight toward the goal's agent position, ignoring the block.

    ``state``, ``goal``: Push-T states (agent x, y first). Returns the relative action (2,) in [-1, 1]
    that aims at the goal agent position (the PD controller lands on it when it is within reach).
    """
    delta = (np.asarray(goal[:2], np.float32) - np.asarray(state[:2], np.float32)) / pt.ACTION_SCALE
    peak = max(float(np.abs(delta).max()), 1.0)  # keep the direction when clipping
    return (delta / peak).astype(np.float32)
