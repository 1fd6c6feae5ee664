"""How much the planner's cost sees each part of the state: latent distance vs a controlled change.

    python benchmarks/latent_sensitivity.py --ckpt runs/demo-pusht/run [--samples 20]

From random held-out states, one state quantity at a time is moved by a given amount (everything
else fixed), both frames are rendered and encoded, and the squared latent distance ||z' - z||^2
(the planner's terminal cost) is averaged. A quantity whose changes barely move the embedding is
invisible to the planner. Push-T: agent x, block x, block angle; Two-Room: agent x.

Then, for Push-T, nearest neighbours: each of 1,000 held-out frames is matched to its 5 nearest
training frames by latent distance, and by raw pixel distance, and the median error of each state
quantity between a frame and its neighbours is printed. A quantity the latent neighbours get no
better than chance (block angle: 90 degrees) is one the planner's cost cannot see.
"""

from __future__ import annotations

import argparse
import math

import numpy as np
import torch

import jepaworld
from jepaworld.data import EpisodeFile
from jepaworld.envs import make

CHANGES = {  # env -> (label, state index, amounts)
    "pusht": [("agent x (px)", 0, [5, 10, 20, 40, 80]), ("block x (px)", 2, [5, 10, 20, 40, 80, 120]),
              ("block angle (deg)", 4, [10, 20, 45, 90, 180])],
    "tworoom": [("agent x (px)", 0, [2, 5, 10, 20, 40])],
}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--samples", type=int, default=20, help="random held-out start states")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--neighbours", type=int, default=1000, help="held-out frames matched (0: skip)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wm = jepaworld.load(args.ckpt, device="cpu")
    env = make(wm.meta.env, resolution=wm.meta.resolution)
    env.reset(seed=0)
    f = EpisodeFile(wm.meta.data_path)
    states = f.require_state("latent sensitivity")
    rows = episode_rows(f, wm.meta.held_out)
    picks = np.sort(np.random.default_rng(0).choice(rows, args.samples, replace=False))

    @torch.no_grad()
    def encode(batch: list[np.ndarray]) -> np.ndarray:
        frames = np.stack([env.render_state(s) for s in batch])
        return wm.encode(torch.as_tensor(frames)[:, None])[:, 0].numpy()

    print(f"{wm.meta.env}: mean ||z' - z||^2 over {args.samples} held-out states when one quantity changes")
    for label, index, amounts in CHANGES.get(wm.meta.env, []):
        cells = []
        for amount in amounts:
            delta = math.radians(amount) if "angle" in label else float(amount)
            dist = []
            for row in picks:
                base = np.asarray(states[row], np.float32)
                moved = base.copy()
                moved[index] += delta if base[index] + delta < 480 or "angle" in label else -delta
                try:
                    z = encode([base, moved])
                except ValueError:  # the moved state is not valid (e.g. into a wall): skip it
                    continue
                dist.append(float(((z[1] - z[0]) ** 2).sum()))
            cells.append(f"{amount:>4}: {np.mean(dist):7.2f}" if dist else f"{amount:>4}:     n/a")
        print(f"  {label:<18} " + "  ".join(cells))
    if wm.meta.env == "pusht" and args.neighbours:
        nearest_neighbours(wm, f, states, args.neighbours)


def episode_rows(f: EpisodeFile, episodes) -> np.ndarray:
    """The file's row indices of the given episodes, concatenated."""
    return np.concatenate([np.arange(f.ep_offset[e], f.ep_offset[e] + f.ep_len[e]) for e in episodes])


def nearest_neighbours(wm, f: EpisodeFile, states, n_test: int, k: int = 5) -> None:
    """Median state error between held-out frames and their k nearest training frames (Push-T)."""
    rng = np.random.default_rng(0)
    held = set(int(e) for e in wm.meta.held_out)

    def sample(episodes: list[int], n: int) -> np.ndarray:
        rows = episode_rows(f, episodes)
        return np.sort(rng.choice(rows, min(n, len(rows)), replace=False))

    train = sample([e for e in range(len(f.ep_len)) if e not in held], 6 * n_test)
    test = sample(sorted(held), n_test)
    pixels = f.pixels  # (N, H, W, 3) uint8

    @torch.no_grad()
    def embed(rows: np.ndarray) -> np.ndarray:
        return np.concatenate([wm.encode(torch.as_tensor(pixels[rows[i : i + 500]])[:, None])[:, 0].numpy()
                               for i in range(0, len(rows), 500)])  # fmt: skip

    def flat(rows: np.ndarray) -> np.ndarray:
        return pixels[rows].reshape(len(rows), -1).astype(np.float32) / 255

    s_train, s_test = np.asarray(states[train]), np.asarray(states[test])
    print(f"nearest neighbours: median error between {len(test)} held-out frames and their {k} nearest "
          f"of {len(train)} training frames")  # fmt: skip
    print(f"  {'distance':<10} {'agent (px)':>11} {'block (px)':>11} {'block angle (deg)':>18}")
    for name, a, b in (("latent", embed(train), embed(test)), ("pixels", flat(train), flat(test))):
        d = (b * b).sum(1)[:, None] - 2 * b @ a.T + (a * a).sum(1)[None]  # (test, train) squared distances
        nn = np.argsort(d, axis=1)[:, :k]
        agent = np.linalg.norm(s_train[nn][..., 0:2] - s_test[:, None, 0:2], axis=-1)
        block = np.linalg.norm(s_train[nn][..., 2:4] - s_test[:, None, 2:4], axis=-1)
        angle = np.abs(np.angle(np.exp(1j * (s_train[nn][..., 4] - s_test[:, None, 4]))))
        print(f"  {name:<10} {np.median(agent):11.1f} {np.median(block):11.1f} {np.degrees(np.median(angle)):18.1f}")
    print("  chance: block angle 90 deg")


if __name__ == "__main__":
    main()
