"""Draw docs/assets/envs.png: for each built-in environment, a start frame beside the goal image
the planner is given (the state its scripted expert reached 25 steps later), as the protocol draws them.

    OMP_NUM_THREADS=1 .venv/bin/python docs/tools/env_figure.py [--envs tworoom pusht reacher cube]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from jepaworld.envs import get_spec, make  # noqa: E402

TITLES = {"tworoom": "Two-Room", "pusht": "Push-T", "reacher": "Reacher", "cube": "Cube"}


def start_and_goal(name: str, resolution: int, seed: int, offset: int) -> tuple[np.ndarray, np.ndarray]:
    env = make(name, resolution=resolution)
    rng = np.random.default_rng(seed)
    policy = get_spec(name).make_policy(env, rng, 0.3)
    obs, _ = env.reset(seed=seed)
    for _ in range(20):  # leave the reset pose
        obs, *_ = env.step(policy(obs, env.get_state()))
    start = obs
    for _ in range(offset):
        obs, *_ = env.step(policy(obs, env.get_state()))
    goal = env.render_state(env.get_state())
    env.close()
    return start, goal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--envs", nargs="+", default=list(TITLES))
    parser.add_argument("--resolution", type=int, default=128)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "assets" / "envs.png"))
    args = parser.parse_args()
    fig, axes = plt.subplots(1, 2 * len(args.envs), figsize=(2.0 * len(args.envs) * 2, 2.4))
    for i, name in enumerate(args.envs):
        start, goal = start_and_goal(name, args.resolution, args.seed, 25)
        for ax, img, label in ((axes[2 * i], start, "start"), (axes[2 * i + 1], goal, "goal image")):
            ax.imshow(img)
            ax.set_title(f"{TITLES.get(name, name)}: {label}", fontsize=9)
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(args.out)


if __name__ == "__main__":
    main()
