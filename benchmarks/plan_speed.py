"""Seconds per CEM plan: straightforward full-recompute rollouts vs jepaworld's fast rollouts.

    python benchmarks/plan_speed.py [--threads 2] [--quick] [--device cpu|cuda|auto]

One plan = CEM with S samples x I iterations over a horizon of 5 action blocks, one environment
(published: 300 x 30). Models are randomly initialised (speed does not depend on the weights).
Rows:
  - published dims (predictor 6 x 16 x 64, width 192, history 3): learned positions recompute the
    3-frame window each step (the published rollout); RoPE + sliding-window KV cache costs one
    token per step (ours); "straightforward" recomputes the whole sequence every step.
    "bf16" runs the fast path's matmuls in bfloat16 (plan.precision=bf16).
  - cpu preset (the model `make demo` trains).
  - GPU (``--device cuda``, or ``auto`` with a GPU): published dims and planner on one GPU, the
    fast path in bf16 with the whole cost call captured once as a CUDA graph and replayed; on a
    machine without CUDA the row says it was skipped.
"demo planner" is the planner configured in configs/cpu.yaml (what `make demo` plans with).
Plans shorter than ~5 s report the best of up to 3 runs.
GFLOP/s is the achieved rate of the predictor work (matmuls and attention counted by
torch.utils.flop_counter on one cost call, times the iterations).
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from jepaworld.config import PlanConfig, load_config
from jepaworld.config.planners import apply_planner_preset
from jepaworld.model import WorldModel
from jepaworld.plan import PlanProblem, cem

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.reference_rollout import reference_cost  # noqa: E402  (the straightforward rollout the tests check against)

A, FS, H = 2, 5, 5


def build(preset: str, device: str = "cpu", **model_overrides) -> tuple[WorldModel, int]:
    cfg = load_config(preset)
    m = replace(cfg.model, **model_overrides)
    wm = WorldModel(m, action_dim=A, frameskip=FS, history=cfg.data.history).eval().to(device)
    return wm, cfg.data.history


def graphed(cost_fn, example: torch.Tensor):
    """``cost_fn`` captured once as a CUDA graph (static shapes) and replayed on each call."""
    static_in = example.clone()
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):  # warm-up: builds the fast path's weights outside the capture
            cost_fn(static_in)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_out = cost_fn(static_in)

    def replay(actions: torch.Tensor) -> torch.Tensor:
        static_in.copy_(actions)
        graph.replay()
        return static_out.clone()

    return replay


def plan_once(
    wm: WorldModel,
    history: int,
    plan: PlanConfig,
    envs: int,
    straightforward: bool,
    device: str = "cpu",
    cuda_graph: bool = False,
) -> tuple[float, float]:
    """Seconds for one CEM plan of ``envs`` environments, and the FLOPs of its cost calls.

    straightforward: the cost of ``tests/reference_rollout.py`` (full recompute, fp32) instead of ``wm.cost``.
    """
    D = wm.cfg.embed_dim
    g = torch.Generator(device=device).manual_seed(0)
    z0 = torch.randn(envs, history, D, generator=g, device=device)
    goal = torch.randn(envs, D, generator=g, device=device)

    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        if straightforward:
            return reference_cost(wm, z0, goal, actions, mode=plan.cost)
        return wm.cost(z0, goal, actions, mode=plan.cost, precision=plan.precision)

    with torch.inference_mode():
        example = torch.zeros(envs, plan.samples, H, FS * A, device=device)
        with FlopCounterMode(display=False) as fc:
            cost_fn(example)
        flops = fc.get_total_flops() * plan.iterations
        search = graphed(cost_fn, example) if cuda_graph else cost_fn
        problem = PlanProblem(envs, H, FS, A, device=device)
        times: list[float] = []
        while not times or (len(times) < 3 and sum(times) < 10.0):  # plans under ~5 s: best of up to 3
            sync(device)
            t0 = time.perf_counter()
            cem(search, problem, plan, generator=g)
            sync(device)
            times.append(time.perf_counter() - t0)
        return min(times), flops


def sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def row(
    name: str,
    wm: WorldModel,
    history: int,
    plan: PlanConfig,
    envs: int = 1,
    reference_too: bool = True,
    device: str = "cpu",
    cuda_graph: bool = False,
) -> float:
    fast_s, fast_flops = plan_once(wm, history, plan, envs, straightforward=False, device=device, cuda_graph=cuda_graph)
    line = f"{name:<52} {plan.samples:>4}x{plan.iterations:<3} envs {envs:<2} ours {fast_s:7.2f} s"
    line += f" ({fast_flops / 1e12:.2f} TFLOP, {fast_flops / fast_s / 1e9:5.0f} GFLOP/s)"
    if reference_too:
        ref_s, ref_flops = plan_once(wm, history, plan, envs, straightforward=True, device=device)
        line += f" | straightforward {ref_s:7.2f} s ({ref_flops / 1e12:.2f} TFLOP) | speed-up {ref_s / fast_s:4.1f}x"
    print(line, flush=True)
    return fast_s


def gpu_rows(device: str, published: PlanConfig) -> None:
    """Published dims and planner on one GPU: bf16 fast path, CUDA graph; 1 and 50 environments."""
    name = "GPU: published dims, RoPE + KV cache, bf16, CUDA graph"
    if device == "cpu" or not torch.cuda.is_available():
        why = "no CUDA device" if not torch.cuda.is_available() else "--device cpu"
        print(f"{name:<52} skipped: {why}", flush=True)
        return
    print(f"GPU: {torch.cuda.get_device_name(device)}", flush=True)
    paper_rope, h = build("paper", device, pos_embedding="rope")
    bf16 = replace(published, precision="bf16")
    row("GPU: published dims, RoPE + KV cache, fp32", paper_rope, h, published, device=device)
    row(name, paper_rope, h, bf16, reference_too=False, device=device, cuda_graph=True)
    row(name, paper_rope, h, bf16, envs=50, reference_too=False, device=device, cuda_graph=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="fewer iterations (a smoke run, not the reported figure)")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda", "auto"],
                    help="cpu: CPU rows, GPU row skipped; cuda: GPU rows only; auto: both with a GPU")  # fmt: skip
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    published = apply_planner_preset(PlanConfig(), "published")
    demo = load_config("cpu").plan
    if args.quick:
        published, demo = replace(published, iterations=3), replace(demo, iterations=1)
    print(f"torch {torch.__version__}, {args.threads} threads, horizon {H} blocks of {FS} x {A}-d actions")
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise SystemExit("--device cuda: no CUDA device here (torch.cuda.is_available() is False)")
        gpu_rows("cuda", published)
        return
    paper_learned, h = build("paper")
    paper_rope, _ = build("paper", pos_embedding="rope")
    cpu, hc = build("cpu")
    row("published dims, learned pos (published rollout)", paper_learned, h, published)
    row("published dims, RoPE + KV cache", paper_rope, h, published)
    row("published dims, RoPE + KV cache, bf16", paper_rope, h, replace(published, precision="bf16"),
        reference_too=False)  # fmt: skip
    row("published dims, RoPE + KV cache, demo planner", paper_rope, h, demo, reference_too=False)
    if not args.quick:  # cheaper closed-loop budgets (success vs budget: benchmarks/plan_budget.py)
        for samples, iters in ((30, 1), (100, 1)):
            cheap = replace(demo, samples=samples, iterations=iters, elites=max(3, samples // 10))
            row("published dims, RoPE + KV cache, demo planner", paper_rope, h, cheap, reference_too=False)
    row("cpu preset", cpu, hc, published)
    one = row("cpu preset, demo planner", cpu, hc, demo, reference_too=False)
    eight = row("cpu preset, demo planner", cpu, hc, demo, envs=8, reference_too=False)
    print(f"{'':<52} 8 environments in one batch cost {eight / one:.1f}x one", flush=True)
    row("cpu preset, demo planner", cpu, hc, demo, envs=50, reference_too=False)
    gpu_rows("cuda" if args.device == "auto" else "cpu", published)


if __name__ == "__main__":
    main()
