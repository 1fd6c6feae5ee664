"""Push-T's geometry, pure numpy and plain floats: the arena's walls, the T block's two boxes, distances to
the T, how far it reaches past the walls, and the exact overlap of two Ts (``coverage``, the classic task's
reward). :mod:`jepaworld.envs.pusht` (the env, its physics and rendering) re-exports every public name.

The T in block coordinates is a 120 x 30 bar over a 30 x 90 stem, its origin (the block's ``x, y``) at the
middle of the bar's outer edge, its centre of gravity the mean of the two boxes' centres, ``(0, 45)``.
A pose is ``(x, y, angle)`` in canvas pixels and radians.
"""

from __future__ import annotations

import math

import numpy as np

CANVAS = 512
WALL_LO, WALL_HI = 5.0, 506.0  # the walls' centre lines
WALL_RADIUS = 2.0

# The T in block coordinates: boxes (x0, x1, y0, y1); the origin is the middle of the bar's edge.
BAR = (-60.0, 60.0, 0.0, 30.0)
STEM = (-15.0, 15.0, 30.0, 120.0)
COG = np.array([0.0, 45.0])  # mean of the two boxes' centres (15 and 75)
T_AREA = 120.0 * 30.0 + 30.0 * 90.0  # 6300 px^2
BOUND_RADIUS = 76.5  # max distance from the centre of gravity to a corner of the T



def rotation(angle: float) -> np.ndarray:
    """``(2, 2)`` matrix taking block coordinates to world directions."""
    c, s = math.cos(angle), math.sin(angle)
    return np.array([[c, -s], [s, c]])


def box_corners(box: tuple[float, float, float, float]) -> np.ndarray:
    """Corners ``(4, 2)`` of a box in block coordinates, counter-clockwise."""
    x0, x1, y0, y1 = box
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]])


def t_corners(pose: np.ndarray) -> np.ndarray:
    """World corners ``(2, 4, 2)`` of the bar and the stem for a block ``pose (x, y, angle)``."""
    local = np.stack([box_corners(BAR), box_corners(STEM)])
    return local @ rotation(float(pose[2])).T + np.asarray(pose[:2], np.float64)


def cog(pose: np.ndarray) -> np.ndarray:
    """World centre of gravity ``(2,)`` of the block at ``pose (x, y, angle)``."""
    return rotation(float(pose[2])) @ COG + np.asarray(pose[:2], np.float64)


def t_distance(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Signed distance ``(N,)`` from world ``points (N, 2)`` to the T at ``pose`` (negative inside)."""
    local = (np.asarray(points, np.float64) - np.asarray(pose[:2], np.float64)) @ rotation(float(pose[2]))
    out = np.full(len(local), np.inf)
    for x0, x1, y0, y1 in (BAR, STEM):
        q = np.abs(local - [(x0 + x1) / 2, (y0 + y1) / 2]) - [(x1 - x0) / 2, (y1 - y0) / 2]
        d = np.hypot(*np.maximum(q, 0.0).T) + np.minimum(q.max(axis=1), 0.0)
        out = np.minimum(out, d)
    return out


_LOCAL_CORNERS = [(x, y) for x0, x1, y0, y1 in (BAR, STEM) for x in (x0, x1) for y in (y0, y1)]
_INNER_LO, _INNER_HI = WALL_LO + WALL_RADIUS, WALL_HI - WALL_RADIUS  # the walls' inner faces


def wall_penetration(x: float, y: float, angle: float) -> float:
    """How far (px) the T at pose ``(x, y, angle)`` reaches past the walls' inner faces (negative:
    how far it keeps clear of them)."""
    c, s = math.cos(angle), math.sin(angle)
    worst = -math.inf
    for lx, ly in _LOCAL_CORNERS:
        wx, wy = x + c * lx - s * ly, y + s * lx + c * ly
        worst = max(worst, _INNER_LO - wx, _INNER_LO - wy, wx - _INNER_HI, wy - _INNER_HI)
    return worst


def t_distance_xy(px: float, py: float, x: float, y: float, angle: float) -> float:
    """:func:`t_distance` for one point, in plain floats (fast enough to call every sub-step)."""
    c, s = math.cos(angle), math.sin(angle)
    u, v = c * (px - x) + s * (py - y), -s * (px - x) + c * (py - y)
    best = math.inf
    for x0, x1, y0, y1 in (BAR, STEM):
        qx, qy = abs(u - (x0 + x1) / 2) - (x1 - x0) / 2, abs(v - (y0 + y1) / 2) - (y1 - y0) / 2
        best = min(best, math.hypot(max(qx, 0.0), max(qy, 0.0)) + min(max(qx, qy), 0.0))
    return best


Point = tuple[float, float]


def _clip(poly: list[Point], a: Point, b: Point) -> list[Point]:
    """The part of convex ``poly`` left of the directed line ``a -> b`` (Sutherland-Hodgman).

    Plain floats: for polygons of at most 8 vertices this is several times faster than numpy."""
    ex, ey = b[0] - a[0], b[1] - a[1]
    side = [ex * (y - a[1]) - ey * (x - a[0]) for x, y in poly]
    out = []
    for i, (p, si) in enumerate(zip(poly, side, strict=True)):
        j = (i + 1) % len(poly)
        if si >= 0:
            out.append(p)
        if (si >= 0) != (side[j] >= 0):
            t, q = si / (si - side[j]), poly[j]
            out.append((p[0] + t * (q[0] - p[0]), p[1] + t * (q[1] - p[1])))
    return out


def _area(poly: list[Point]) -> float:
    n = len(poly)
    twice = sum(poly[i][0] * poly[(i + 1) % n][1] - poly[(i + 1) % n][0] * poly[i][1] for i in range(n))
    return 0.5 * abs(twice)


def _boxes(pose: np.ndarray) -> list[tuple[Point, list[Point]]]:
    """The bar and the stem at ``pose``: ``(centre, corners counter-clockwise)`` each, as floats."""
    x, y, angle = (float(v) for v in pose[:3])
    c, s = math.cos(angle), math.sin(angle)
    out = []
    for x0, x1, y0, y1 in (BAR, STEM):
        corners = [(x + c * u - s * v, y + s * u + c * v) for u, v in ((x0, y0), (x1, y0), (x1, y1), (x0, y1))]
        u, v = (x0 + x1) / 2, (y0 + y1) / 2
        out.append(((x + c * u - s * v, y + s * u + c * v), corners))
    return out


_CIRCUMRADIUS = [math.hypot(x1 - x0, y1 - y0) / 2 for x0, x1, y0, y1 in (BAR, STEM)]


def overlap_area(pose_a: np.ndarray, pose_b: np.ndarray) -> float:
    """Exact area shared by the T at ``pose_a`` and the T at ``pose_b`` (px^2).

    Each T is two convex boxes with disjoint interiors, so the overlap is the sum of the four
    box-box intersections, each a convex polygon clipping (Sutherland-Hodgman).
    """
    total = 0.0
    for (ca, pa), ra in zip(_boxes(pose_a), _CIRCUMRADIUS, strict=True):
        for (cb, pb), rb in zip(_boxes(pose_b), _CIRCUMRADIUS, strict=True):
            if math.hypot(ca[0] - cb[0], ca[1] - cb[1]) >= ra + rb:
                continue
            poly = pa
            for k in range(4):
                poly = _clip(poly, pb[k], pb[(k + 1) % 4])
                if not poly:
                    break
            total += _area(poly) if len(poly) >= 3 else 0.0
    return total


def coverage(state: np.ndarray, goal: np.ndarray) -> float:
    """Fraction in [0, 1] of the goal T covered by the block (the classic task's reward)."""
    a, b = np.asarray(state, np.float64)[2:5], np.asarray(goal, np.float64)[2:5]
    if np.hypot(*(cog(a) - cog(b))) >= 2 * BOUND_RADIUS:
        return 0.0
    return min(overlap_area(a, b) / T_AREA, 1.0)
