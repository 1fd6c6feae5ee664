"""Cube: OGBench's ``cube-single`` (a UR5e arm with a Robotiq gripper and one cube, MuJoCo).

The simulation is OGBench's own ``CubeEnv`` in its data-collection mode: 5-D actions in [-1, 1]
(effector displacement xyz up to 5 cm, yaw up to 0.3 rad, gripper opening change) turned into
joint targets by its differential IK, 25 physics steps of 2 ms per action. Its target cube is
hidden (``visualize_info=False``): the goal is an image of the scene with the cube where it should be.
Success = the cube's centre within 4 cm of the goal's (OGBench's test).

Frames come from OGBench's ``front_pixels`` camera with the colours of its pixel tasks (purple
gripper, arm at 10% opacity), drawn by our own renderer with the cheapest settings that still show
arm and cube: no shadows, reflections, skybox or multisampling. On a CPU rasteriser the arm's and
gripper's ~185,000 mesh triangles then set the cost, so they are coarsened (:func:`coarsen_meshes`,
vertices clustered on a ``mesh_cell`` grid, 5 mm: 21,720 triangles are drawn), which at 64 px changes
no visible detail. docs/results/reacher.md and docs/results/cube.md have the measured frame rates.

State ``(STATE_DIM,)`` float32: effector xyz (m), effector yaw, gripper opening in [0, 1], gripper
contact in [0, 1], cube xyz, cube quaternion (w, x, y, z), cube yaw, then the simulator's ``qpos``
(21) and ``qvel`` (20), which ``set_state`` restores exactly.

The collector is OGBench's scripted Markov oracle (pick the cube, carry it to a random target,
release, move away; a new target when done) with Gaussian action noise, smoothed over steps.
"""

from __future__ import annotations

import weakref
from typing import Any

import gymnasium as gym
import numpy as np

from jepaworld.envs.goal import GoalTask, kept_physics
from jepaworld.envs.mujoco_gl import require_mujoco
from jepaworld.envs.state import Quantity, StateLayout
from jepaworld.errors import JepaworldError

DYNAMICS = "ogbench-1.2.2-cube-single"  # recorded in collected files: data of other dynamics is refused
SUCCESS_M = 0.04
CAMERA = "front_pixels"
NQ, NV = 21, 20
EFFECTOR, YAW, OPENING, CONTACT, CUBE, QUAT, CUBE_YAW, QPOS = 0, 3, 4, 5, 6, 9, 13, 14  # state layout
QVEL = QPOS + NQ
STATE_DIM = QVEL + NV
PACKAGES = ("mujoco", "dm_control", "ogbench")
MESH_CELL = 0.005  # m: grid on which the arm's visual meshes are coarsened for drawing
NOISE_SMOOTHING = 0.5  # the expert's noise: n_t = 0.5 n_{t-1} + sqrt(1 - 0.5^2) * N(0, noise^2)
_XYZ = (EFFECTOR, EFFECTOR + 1, EFFECTOR + 2)
LAYOUT = StateLayout(
    quantities=(
        Quantity("effector position", _XYZ, ("effector x", "effector y", "effector z")),
        Quantity("gripper opening", (OPENING,), ("gripper",)),
        Quantity("cube position", (CUBE, CUBE + 1, CUBE + 2), ("cube x", "cube y", "cube z")),
    ),
    entities={
        "effector": (list(_XYZ), ["x", "y", "z"]),
        "gripper": ([OPENING], ["opening"]),
        "cube": ([CUBE, CUBE + 1, CUBE + 2], ["x", "y", "z"]),
    },
)


def cube_position(state: np.ndarray) -> np.ndarray:
    """The cube's centre ``(..., 3)`` in metres."""
    return np.asarray(state, np.float64)[..., CUBE : CUBE + 3]


def goal_distance(state: np.ndarray, goal: np.ndarray) -> float:
    """Distance (m) between the cube's centre and the goal's: what :func:`is_success` thresholds."""
    return float(np.linalg.norm(cube_position(state) - cube_position(goal)))


def is_success(state: np.ndarray, goal: np.ndarray) -> bool:
    """OGBench's test: the cube within 4 cm of the goal position."""
    return goal_distance(state, goal) <= SUCCESS_M


def checked_state(state: Any) -> np.ndarray:
    s = np.asarray(state, np.float64).reshape(-1)
    if s.shape != (STATE_DIM,) or not np.all(np.isfinite(s)):
        raise JepaworldError(
            f"Cube state must be {STATE_DIM} finite numbers (effector xyz, yaw, gripper opening, contact, cube "
            f"xyz, quaternion, yaw, then the simulator's qpos ({NQ}) and qvel ({NV})), got shape {s.shape}"
        )
    return s


def coarsen_meshes(model: Any, cell: float) -> tuple[int, int]:
    """Coarsen the triangles of the meshes that visual-only geoms draw, in place (before a renderer is
    made): vertices are clustered on a ``cell``-metre grid, each face is redrawn on its clusters' first
    vertices, faces that collapse or repeat another are moved to the end of the mesh's faces and made
    degenerate, and the mesh's face count is cut to the faces kept, so that a renderer made afterwards
    does not even upload the others (on a CPU rasteriser their vertices cost as much as drawn ones').

    The dynamics do not change: masses and inertias were fixed at compile time, and collisions read a
    mesh's vertices and the convex hull compiled from them, never its faces, so a mesh that a visual
    geom shares with a colliding one (Cube's gripper: 56,000 of its 81,000 drawn faces) is coarsened
    too (tests/test_cube.py checks an episode's states against uncoarsened meshes). Meshes only
    colliding geoms use are left alone. Returns (faces kept, faces)."""
    import mujoco

    visual = {
        int(model.geom_dataid[g])
        for g in range(model.ngeom)
        if model.geom_type[g] == mujoco.mjtGeom.mjGEOM_MESH and not (model.geom_contype[g] or model.geom_conaffinity[g])
    }
    kept_total = faces_total = 0
    for mesh in sorted(visual):
        v0, nv = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        f0, nf = model.mesh_faceadr[mesh], model.mesh_facenum[mesh]
        faces = model.mesh_face[f0 : f0 + nf].copy()
        cells = np.floor(model.mesh_vert[v0 : v0 + nv] / cell).astype(np.int64)
        _, first, cluster = np.unique(cells, axis=0, return_index=True, return_inverse=True)
        merged = first[cluster.ravel()][faces]  # (nf, 3) vertex of each corner's cluster
        alive = (merged[:, 0] != merged[:, 1]) & (merged[:, 1] != merged[:, 2]) & (merged[:, 0] != merged[:, 2])
        _, unique = np.unique(np.sort(merged[alive], axis=1), axis=0, return_index=True)
        rows = np.flatnonzero(alive)[np.sort(unique)]  # one face per distinct triangle
        out = np.repeat(merged[rows[:1]] if len(rows) else faces[:1], nf, axis=0)
        out[len(rows) :] = out[0, 0]  # degenerate
        out[: len(rows)] = merged[rows]
        model.mesh_face[f0 : f0 + nf] = out
        normals = model.mesh_facenormal[f0 : f0 + nf]
        normals[: len(rows)] = normals[rows].copy()
        model.mesh_facenum[mesh] = max(1, len(rows))  # the renderer uploads faces [adr, adr + num)
        kept_total, faces_total = kept_total + len(rows), faces_total + nf
    return kept_total, faces_total


def _oracle_info(state: np.ndarray, target: np.ndarray) -> dict[str, Any]:
    """The observation dict OGBench's oracle reads, from a state and the target cube's state."""
    s, g = np.asarray(state, np.float64), np.asarray(target, np.float64)
    return {
        "proprio/effector_pos": s[EFFECTOR : EFFECTOR + 3],
        "proprio/effector_yaw": s[YAW : YAW + 1],
        "proprio/gripper_opening": s[OPENING : OPENING + 1],
        "proprio/gripper_contact": s[CONTACT : CONTACT + 1],
        "privileged/target_block": 0,
        "privileged/block_0_pos": s[CUBE : CUBE + 3],
        "privileged/block_0_yaw": s[CUBE_YAW : CUBE_YAW + 1],
        "privileged/target_block_pos": g[CUBE : CUBE + 3],
        "privileged/target_block_yaw": g[CUBE_YAW : CUBE_YAW + 1],
    }


def _oracle(env: Any, final_pos: np.ndarray, final_yaw: float) -> Any:
    from ogbench.manipspace.oracles.markov.cube_markov import CubeMarkovOracle

    oracle = CubeMarkovOracle(env=env, min_norm=0.4)
    oracle.reset(None, None)
    # OGBench draws where the arm goes after a release from numpy's global generator: draw it from ours,
    # so that an episode depends on its seed alone.
    oracle._final_pos, oracle._final_yaw = np.asarray(final_pos, np.float64), float(final_yaw)
    return oracle


class _Bounds:
    """What the oracle's ``reset`` reads from an env (its arm sampling bounds)."""

    def __init__(self, bounds: np.ndarray):
        self.unwrapped = self
        self._arm_sampling_bounds = bounds


_ARM_BOUNDS = np.array([[0.25, -0.35, 0.20], [0.6, 0.35, 0.35]])  # OGBench's arm sampling bounds (m)


def heuristic(state: np.ndarray, goal: np.ndarray) -> np.ndarray:
    """OGBench's scripted oracle on the true state: pick the cube and place it at the goal's position."""
    final = np.asarray(goal, np.float64)[CUBE : CUBE + 3] + [0.0, 0.0, 0.2]
    oracle = _oracle(_Bounds(_ARM_BOUNDS), final, 0.0)
    return np.asarray(oracle.select_action(None, _oracle_info(state, goal)), np.float32)


class CubeExpert:
    """OGBench's oracle toward the env's hidden random target; on arrival (cube placed, arm moved away)
    a new target. Gaussian noise of std ``noise`` on every action dimension, smoothed over steps."""

    def __init__(self, env: CubeEnv, rng: np.random.Generator, noise: float = 0.1):
        self.env, self.rng, self.noise = env, rng, noise
        self.oracle: Any = None
        self.n = np.zeros(5)

    def _restart(self) -> None:
        self.oracle = _oracle(_Bounds(_ARM_BOUNDS), self.rng.uniform(*_ARM_BOUNDS), self.rng.uniform(-np.pi, np.pi))

    def __call__(self, obs: np.ndarray, state: np.ndarray) -> np.ndarray:
        if self.oracle is None:
            self._restart()
        elif self.oracle.done:
            self.env.new_target()
            self._restart()
        action = self.oracle.select_action(None, _oracle_info(state, self.env.target_state()))
        self.n = NOISE_SMOOTHING * self.n + np.sqrt(1 - NOISE_SMOOTHING**2) * self.noise * self.rng.standard_normal(5)
        return np.clip(np.asarray(action) + self.n, -1.0, 1.0).astype(np.float32)


def cube_expert(env: gym.Env, rng: np.random.Generator, noise: float = 0.1) -> CubeExpert:
    """Policy factory for Cube's scripted oracle (``env`` is the :class:`CubeEnv` being stepped)."""
    inner = env.unwrapped
    if not isinstance(inner, CubeEnv):
        raise JepaworldError(f"cube_expert drives a CubeEnv, got {type(inner).__name__}; use the env's own policy")
    return CubeExpert(inner, rng, noise)


class CubeEnv(GoalTask, gym.Env):
    """Gymnasium env; observations are rendered frames ``uint8 (res, res, 3)``.

    ``reset(options={"state": (STATE_DIM,), "goal": (STATE_DIM,)})`` places arm and cube exactly
    (OGBench's random arm pose, cube pose and hidden target otherwise). ``info`` carries ``state``,
    ``goal`` (the start state when none is given) and ``success`` (:func:`is_success`). Episodes never
    terminate on their own.
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 20}
    success_test, distance = staticmethod(is_success), staticmethod(goal_distance)
    reusable = True  # a seeded reset starts as a new env does (OGBench resets all its data; jepaworld.envs.pool)

    def __init__(self, resolution: int = 64, render_mode: str | None = "rgb_array", mesh_cell: float = MESH_CELL):
        if resolution < 8:
            raise JepaworldError(f"resolution must be >= 8 pixels, got {resolution}")
        if not 0.0 <= mesh_cell <= 0.05:
            raise JepaworldError(f"mesh_cell must be in [0, 0.05] m (0: the meshes as they are), got {mesh_cell}")
        require_mujoco("Cube", PACKAGES)
        import mujoco
        from ogbench.manipspace.envs.cube_env import CubeEnv as OGBenchCube

        self._mujoco = mujoco
        self.resolution = int(resolution)
        self.render_mode = render_mode
        self.observation_space = gym.spaces.Box(0, 255, (resolution, resolution, 3), np.uint8)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (5,), np.float32)
        self._sim = OGBenchCube(
            env_type="single", ob_type="pixels", width=self.resolution, height=self.resolution,
            visualize_info=False, mode="data_collection", terminate_at_goal=False,
        )  # fmt: skip
        self._sim.reset(seed=0)  # builds and compiles the model (pixel-task colours), renders once
        self._sim._ob_type = "states"  # its step then skips rendering: we render once, below
        # Nor does it compute the observation and info dicts that reset and step return and nothing here
        # reads (pure functions of the data; 2 of the 5 compute_ob_info calls of a collection step).
        self._sim.compute_observation = self._sim.get_step_info = self._sim.get_reset_info = dict
        self._sim._renderer.close()  # that first frame's renderer (OGBench's env has no close of its own)
        self._sim._renderer = None
        model = self._sim.model
        model.vis.quality.shadowsize = 0
        model.vis.quality.offsamples = 0
        if mesh_cell > 0:
            coarsen_meshes(model, mesh_cell)
        self._renderer = mujoco.Renderer(model, self.resolution, self.resolution)
        # Freed at exit at the latest, while OpenGL still works (a renderer left to the garbage collector
        # at interpreter shutdown prints EGL errors).
        self._close_renderer = weakref.finalize(self, self._renderer.close)
        self._goal = self.get_state()

    # -- Gymnasium API ----------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        options = options or {}
        self._sim.reset(seed=int(self.np_random.integers(2**31)))
        if options.get("state") is not None:
            self.set_state(options["state"])
        goal = options.get("goal")
        self._goal = self.get_state() if goal is None else checked_state(goal).astype(np.float32)
        return self.render(), self._info()

    def step(self, action):
        a = np.asarray(action, np.float64).reshape(-1)
        if a.shape != (5,) or not np.all(np.isfinite(a)):
            raise JepaworldError(
                f"Cube action must be 5 finite numbers in [-1, 1] (dx, dy, dz, dyaw, grip), got {action!r}"
            )
        self._sim.step(np.clip(a, -1.0, 1.0))
        self._settle()
        return self.render(), 0.0, False, False, self._info()

    def render(self) -> np.ndarray:
        r = self._renderer
        r.update_scene(self._sim.data, camera=CAMERA, scene_option=self._sim._scene_option)
        flags = r.scene.flags
        flags[self._mujoco.mjtRndFlag.mjRND_SHADOW] = 0
        flags[self._mujoco.mjtRndFlag.mjRND_REFLECTION] = 0
        flags[self._mujoco.mjtRndFlag.mjRND_SKYBOX] = 0
        return r.render().copy()

    def close(self) -> None:
        self._close_renderer()

    # -- state ------------------------------------------------------------------------------
    def get_state(self) -> np.ndarray:
        info = self._sim.compute_ob_info()
        quat = info["privileged/block_0_quat"]
        return np.concatenate([
            info["proprio/effector_pos"], info["proprio/effector_yaw"], info["proprio/gripper_opening"],
            info["proprio/gripper_contact"], info["privileged/block_0_pos"], quat, info["privileged/block_0_yaw"],
            info["qpos"], info["qvel"],
        ]).astype(np.float32)  # fmt: skip

    def set_state(self, state) -> None:
        s = checked_state(state)
        self._sim.set_state(s[QPOS:QVEL].copy(), s[QVEL:].copy())
        self._settle()
        self._sim.pre_step()  # the oracle's bookkeeping of the previous step starts here

    def _settle(self) -> None:
        """Bodies, sites and contact forces at the current joint positions (mj_step leaves bodies where
        they were before its last integration), so that the frame and the state match ``set_state``'s."""
        self._mujoco.mj_forward(self._sim.model, self._sim.data)
        self._mujoco.mj_rnePostConstraint(self._sim.model, self._sim.data)

    def new_target(self) -> None:
        """A new hidden random target for the collector (OGBench's ``set_new_target``)."""
        self._sim.set_new_target(return_info=False)

    def target_state(self) -> np.ndarray:
        """A state whose cube sits at the hidden target: what the collector carries the cube toward."""
        info = self._sim.compute_ob_info()
        s = np.zeros(STATE_DIM, np.float32)
        s[CUBE : CUBE + 3] = info["privileged/target_block_pos"]
        s[CUBE_YAW] = info["privileged/target_block_yaw"][0]
        return s

    def render_state(self, state) -> np.ndarray:
        """The frame ``uint8 (res, res, 3)`` of any ``state``; the simulation is left as it was."""
        s = checked_state(state)
        with kept_physics(self._sim.data, self._settle):
            self._sim.set_state(s[QPOS:QVEL].copy(), s[QVEL:].copy())
            return self.render()
