"""How much the planner's cost sees each part of the state: latent distance vs a controlled change.

    python benchmarks/latent_sensitivity.py --ckpt runs/demo-pusht/run [--samples 20]

From random held-out states, one state quantity at a time is moved by a given amount (everything
else fixed), both frames are rendered and encoded, and the squared latent distance ||z' - z||^2
(the planner's terminal cost) is averaged. A quantity whose changes barely move the embedding is
invisible to the planner. Push-T: agent x, block x, block angle; Two-Room: agent x.
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
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    wm = jepaworld.load(args.ckpt, device="cpu")
    env = make(wm.meta.env, resolution=wm.meta.resolution)
    env.reset(seed=0)
    f = EpisodeFile(wm.meta.data_path)
    states = f.require_state("latent sensitivity")
    rows = np.concatenate([np.arange(f.ep_offset[e], f.ep_offset[e] + f.ep_len[e]) for e in wm.meta.held_out])
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


if __name__ == "__main__":
    main()
