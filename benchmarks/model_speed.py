"""Training throughput and parameter counts of the world model, CPU and paper configs.

    python benchmarks/model_speed.py [--threads 2] [--only cpu|paper] [--rollout]

One training step = encode a window of T = history + 1 frames, predict, MSE + lambda * SIGReg,
backward, AdamW. Pixels and actions are random (speed does not depend on them).
"""

from __future__ import annotations

import argparse
import sys
import time
from functools import partial
from pathlib import Path

import torch

from jepaworld.config import load_config
from jepaworld.config.schema import ModelConfig
from jepaworld.model import SIGReg, WorldModel
from jepaworld.train.loop import jepa_loss

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.reference_rollout import reference_cost  # noqa: E402  (the straightforward rollout the tests check against)


def preset(name: str) -> ModelConfig:
    return load_config(name).model


CONFIGS = {
    # name: (model config, history, batch, timed steps, resolution) -- the presets in configs/
    "cpu": (preset("cpu"), load_config("cpu").data.history, 128, 10, 64),
    "paper": (preset("paper"), load_config("paper").data.history, 8, 3, 224),  # batch 8: ViT-Tiny/14 is slow here
}
ACTION_DIM, FRAMESKIP = 2, 5


def train_throughput(model: WorldModel, history: int, batch: int, steps: int, res: int) -> float:
    """Samples (windows) per second of fwd + bwd + AdamW."""
    sigreg = SIGReg(1024, 17)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, weight_decay=1e-3)
    T = history + 1
    pixels = torch.randint(0, 256, (batch, T, res, res, 3), dtype=torch.uint8)
    actions = torch.randn(batch, T, FRAMESKIP * ACTION_DIM)

    def step() -> None:
        loss = jepa_loss(model, sigreg, pixels, actions, lam=0.1)["loss"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()

    model.train()
    step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    return batch * steps / (time.perf_counter() - t0)


def rollout_speed(model: WorldModel, history: int, batch: int, horizon: int = 5, reps: int = 3) -> dict:
    """Seconds per cost() call over `batch` candidates, fast path vs the straightforward reference."""
    model.eval()
    D = model.cfg.embed_dim
    z0, goal = torch.randn(1, history, D), torch.randn(1, D)
    blocks = torch.randn(1, batch, horizon, FRAMESKIP * ACTION_DIM)
    out = {}
    with torch.inference_mode():
        for name, cost in (("fast", model.cost), ("reference", partial(reference_cost, model))):
            cost(z0, goal, blocks)
            t0 = time.perf_counter()
            for _ in range(reps):
                cost(z0, goal, blocks)
            out[name] = (time.perf_counter() - t0) / reps
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--only", choices=sorted(CONFIGS))
    ap.add_argument("--rollout", action="store_true", help="also time cost() (fast vs reference)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, (cfg, history, batch, steps, res) in CONFIGS.items():
        if args.only and name != args.only:
            continue
        model = WorldModel(cfg, ACTION_DIM, FRAMESKIP, history)
        counts = ", ".join(f"{k} {v / 1e6:.2f}M" for k, v in model.num_params().items())
        pred = f"{cfg.pred_depth}x{cfg.pred_heads}x{cfg.pred_head_dim} ({cfg.pos_embedding})"
        print(f"[{name}] {cfg.encoder} {res}px, predictor {pred}, history {history}, batch {batch}, "
              f"{args.threads} threads")  # fmt: skip
        print(f"[{name}] params: {counts}")
        print(f"[{name}] train: {train_throughput(model, history, batch, steps, res):.1f} samples/s")
        if args.rollout:
            for pos in ("rope", "learned"):
                cfg.pos_embedding = pos
                m = WorldModel(cfg, ACTION_DIM, FRAMESKIP, history)
                t = rollout_speed(m, history, batch=300)
                print(f"[{name}] cost() 300 candidates x H5, {pos}: fast {t['fast'] * 1e3:.0f} ms, "
                      f"reference {t['reference'] * 1e3:.0f} ms")  # fmt: skip


if __name__ == "__main__":
    main()
