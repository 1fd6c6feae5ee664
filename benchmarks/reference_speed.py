"""stable-worldmodel's CEM solver beside jepaworld's, same dims, same machine, one run.

    python benchmarks/reference_speed.py [--venv /tmp/swm-venv] [--iterations 30] [--repeats 3]
                                         [--threads 2] [--precision fp32|bf16] [--ref-history 1]

The reference is stable-worldmodel (``REFERENCE`` below): its ``CEMSolver`` planning its ``LeWM``
(``Predictor`` 6 layers x 16 heads x 64, width 192, MLP 2048, ``num_frames`` 3; ``Embedder`` over
blocks of 5 x 2-d actions; BatchNorm projector) with the published planner: 300 samples, 30 elites,
horizon 5 blocks, N(0, I) noise. It plans from one frame of history, as its published evaluation
configs do (``plan_config`` sets no ``history_len``: 1), so its rollout runs the predictor over 1, 2,
3, 3, 3 tokens. jepaworld plans the same horizon at the same predictor dims (RoPE, history 3) with
its sliding-window KV cache: one token per step, the two older history tokens computed once.

The reference lives in a separate virtual environment (``--venv``; created on first use: the local
torch wheel, numpy, loguru, einops, gymnasium, tqdm, then stable-worldmodel without its
dependencies, so no CUDA torch or torchvision is pulled). It runs in a worker process of that venv;
its package ``__init__`` (which imports torchvision and every environment) is skipped and only the
solver and the model modules are loaded. jepaworld never imports it.

Plans alternate (reference, ours, reference, ours, ...) after one warm-up each; both report the
best of ``--repeats``; the ratio is reference / ours, by wall clock and by CPU time (the seconds each
process itself ran: with one thread, steady on a machine shared with other jobs, where wall time is
not). Both sides use ``--threads`` intra-op threads.
Random weights: speed does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

REFERENCE = "stable-worldmodel==0.1.1"
REFERENCE_DEPS = ["numpy", "loguru", "einops", "gymnasium", "tqdm"]
A, FS, H, D = 2, 5, 5, 192

# Runs inside the reference venv. Reads a command per line on stdin, answers one JSON line.
WORKER = r"""
import contextlib, importlib.util, json, sys, time, types
import torch

cfg = json.loads(sys.argv[1])
torch.set_num_threads(cfg["threads"])
torch.manual_seed(0)
# Load the solver and the model modules without the package __init__ (torchvision, environments).
root = importlib.util.find_spec("stable_worldmodel").submodule_search_locations[0]
for name, sub in (("stable_worldmodel", ""), ("stable_worldmodel.wm", "/wm")):
    pkg = types.ModuleType(name)
    pkg.__path__ = [root + sub]
    sys.modules[name] = pkg
from gymnasium.spaces import Box
from torch.utils.flop_counter import FlopCounterMode
from stable_worldmodel.solver.cem import CEMSolver
from stable_worldmodel.wm.lewm.lewm import LeWM
from stable_worldmodel.wm.lewm.module import MLP, Embedder, Predictor

D, A, FS, H = cfg["D"], cfg["A"], cfg["FS"], cfg["H"]
predictor = Predictor(num_frames=3, depth=6, heads=16, mlp_dim=2048, input_dim=D, hidden_dim=D,
                      output_dim=D, dim_head=64, dropout=0.1)
model = LeWM(encoder=torch.nn.Identity(), predictor=predictor, action_encoder=Embedder(input_dim=FS * A, emb_dim=D),
             projector=MLP(D, 2048, D, norm_fn=torch.nn.BatchNorm1d),
             pred_proj=MLP(D, 2048, D, norm_fn=torch.nn.BatchNorm1d)).eval()
solver = CEMSolver(model, batch_size=1, num_samples=cfg["samples"], var_scale=1.0, n_steps=cfg["iterations"],
                   topk=cfg["elites"], device="cpu", seed=0)
plan_config = types.SimpleNamespace(horizon=H, receding_horizon=H, history_len=cfg["history"], action_block=FS)
solver.configure(action_space=Box(-1, 1, shape=(1, A)), n_envs=1, config=plan_config)
hist = cfg["history"]


def problem():  # embeddings given: the rollout skips the encoder, as a cached observation does
    return {"pixels": torch.zeros(1, hist, 1), "emb": torch.randn(1, hist, D), "goal": torch.zeros(1, hist, 1),
            "goal_emb": torch.randn(1, 1, D)}


with torch.inference_mode(), FlopCounterMode(display=False) as counter:  # one cost call, as the solver makes it
    info = {k: v.unsqueeze(1).expand(1, cfg["samples"], *v.shape[1:]) for k, v in problem().items()}
    model.get_cost(info, torch.randn(1, cfg["samples"], H, FS * A))
params = sum(p.numel() for p in predictor.parameters())
print(json.dumps({"ready": True, "predictor_params": params, "torch": torch.__version__,
                  "flops": counter.get_total_flops() * cfg["iterations"]}), flush=True)
for line in sys.stdin:
    info = problem()
    with contextlib.redirect_stdout(sys.stderr):  # the solver prints its own time
        t0, c0 = time.perf_counter(), time.process_time()
        solver.solve(info)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(json.dumps({"seconds": seconds, "cpu": cpu}), flush=True)
"""


def ensure_venv(venv: Path, wheels: str | None) -> Path:
    """The reference venv's python, creating the venv and installing the reference when missing."""
    python = venv / "bin" / "python"
    check = "import importlib.util, sys; sys.exit(importlib.util.find_spec('stable_worldmodel') is None)"
    if python.exists() and subprocess.run([str(python), "-c", check]).returncode == 0:
        return python
    import torch

    print(f"installing {REFERENCE} into {venv} (once)", flush=True)
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    if wheels:
        pip += ["--find-links", wheels]
    torch_version = torch.__version__.split("+")[0]  # the same torch as ours: the local CPU wheel
    subprocess.run([*pip, f"torch=={torch_version}", *REFERENCE_DEPS], check=True)
    subprocess.run([*pip, "--no-deps", REFERENCE], check=True)
    return python


class Reference:
    """A worker process in the reference venv that plans on request."""

    def __init__(self, python: Path, **cfg) -> None:
        env = {**os.environ, "OMP_NUM_THREADS": str(cfg["threads"])}
        self.proc = subprocess.Popen(
            [str(python), "-c", WORKER, json.dumps(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        self.info = self._answer()

    def _answer(self) -> dict:
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the reference worker exited (code {self.proc.wait()}); see its stderr above")
        return json.loads(line)

    def plan(self) -> tuple[float, float]:
        """Wall-clock and CPU seconds of one plan."""
        self.proc.stdin.write("plan\n")
        self.proc.stdin.flush()
        answer = self._answer()
        return answer["seconds"], answer["cpu"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait()


def ours(iterations: int, precision: str, threads: int):
    """A function that times one jepaworld CEM plan (published planner) at the published dims."""
    import torch
    from torch.utils.flop_counter import FlopCounterMode

    from jepaworld.config import PlanConfig, load_config
    from jepaworld.config.planners import apply_planner_preset
    from jepaworld.model import WorldModel
    from jepaworld.plan import PlanProblem, cem

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cfg = load_config("paper")
    history = cfg.data.history
    wm = WorldModel(replace(cfg.model, pos_embedding="rope"), action_dim=A, frameskip=FS, history=history).eval()
    plan = replace(apply_planner_preset(PlanConfig(), "published"), iterations=iterations, precision=precision)
    g = torch.Generator().manual_seed(0)

    def cost_fn(actions: torch.Tensor) -> torch.Tensor:
        return wm.cost(torch.randn(1, history, D), torch.randn(1, D), actions, mode=plan.cost, precision=plan.precision)

    def once() -> tuple[float, float]:
        """Wall-clock and CPU seconds of one plan."""
        with torch.inference_mode():
            t0, c0 = time.perf_counter(), time.process_time()
            cem(cost_fn, PlanProblem(1, H, FS, A), plan, generator=g)
            return time.perf_counter() - t0, time.process_time() - c0

    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        cost_fn(torch.zeros(1, plan.samples, H, FS * A))
    flops = counter.get_total_flops() * iterations
    return once, sum(p.numel() for p in wm.predictor.parameters()), plan, flops


def peak_gflops(dtype, threads: int) -> float:
    """A big matmul's GFLOP per CPU second (2048^3, best of 5) at ``threads`` threads: the matmul peak,
    per core (CPU time counts every thread)."""
    import torch

    torch.set_num_threads(threads)
    a, b = torch.randn(2048, 2048, dtype=dtype), torch.randn(2048, 2048, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(5):
        c0 = time.process_time()
        a @ b
        best = min(best, time.process_time() - c0)
    return 2 * 2048**3 / best / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--venv", default="/tmp/swm-venv", help="the reference's virtual environment (created if missing)")
    ap.add_argument("--wheels", default="/opt/wheels" if Path("/opt/wheels").is_dir() else None,
                    help="a folder of local wheels for pip (--find-links), e.g. the CPU torch")  # fmt: skip
    ap.add_argument("--iterations", type=int, default=30, help="CEM iterations (published: 30)")
    ap.add_argument("--repeats", type=int, default=3, help="timed plans per side (best reported)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--precision", default="fp32", choices=["fp32", "bf16"], help="jepaworld's rollout precision")
    ap.add_argument("--ref-history", type=int, default=1, help="reference frames of history (published eval: 1)")
    args = ap.parse_args()

    python = ensure_venv(Path(args.venv), args.wheels)
    our_plan, our_params, plan, our_flops = ours(args.iterations, args.precision, args.threads)
    ref = Reference(
        python, threads=args.threads, samples=plan.samples, elites=plan.elites, iterations=args.iterations,
        history=args.ref_history, D=D, A=A, FS=FS, H=H,
    )  # fmt: skip
    print(
        f"reference {REFERENCE} (torch {ref.info['torch']}): CEMSolver + LeWM, predictor"
        f" {ref.info['predictor_params'] / 1e6:.2f}M params, history {args.ref_history}"
    )
    print(f"jepaworld: cem + WorldModel (RoPE, KV cache, {args.precision}), predictor {our_params / 1e6:.2f}M params,")
    print(f"  history 3; both: {plan.samples} samples x {args.iterations} iterations, {plan.elites} elites,")
    print(f"  horizon {H} blocks of {FS} x {A}-d actions, one environment, {args.threads} threads")
    ref.plan(), our_plan()  # warm-up
    ref_s, our_s = [], []  # (wall, cpu) per round
    for i in range(args.repeats):
        ref_s.append(ref.plan())
        our_s.append(our_plan())
        print(f"  round {i + 1}: reference {ref_s[-1][0]:6.2f} s (cpu {ref_s[-1][1]:6.2f} s)"
              f"   jepaworld {our_s[-1][0]:6.2f} s (cpu {our_s[-1][1]:6.2f} s)", flush=True)  # fmt: skip
    ref.close()
    best_ref, best_ours = min(w for w, _ in ref_s), min(w for w, _ in our_s)
    cpu_ref, cpu_ours = min(c for _, c in ref_s), min(c for _, c in our_s)
    import torch

    peak32 = peak_gflops(torch.float32, args.threads)
    peak = f"fp32 {peak32:.0f} GFLOP"
    if args.precision == "bf16":
        peak += f", bf16 {peak_gflops(torch.bfloat16, args.threads):.0f} GFLOP"
    ref_flops = ref.info["flops"]
    print(f"best of {args.repeats}: reference {best_ref:.2f} s, jepaworld {best_ours:.2f} s")
    print(f"work per plan (matmuls): reference {ref_flops / 1e12:.3f} TFLOP"
          f" at {ref_flops / cpu_ref / 1e9:.0f} GFLOP per CPU second, jepaworld {our_flops / 1e12:.3f} TFLOP"
          f" at {our_flops / cpu_ours / 1e9:.0f} ({ref_flops / our_flops:.2f}x less work)")  # fmt: skip
    print(f"matmul peak here (2048^3, {args.threads} threads, best of 5), per CPU second: {peak}")
    print(f"best CPU time (what each process itself consumed; steadier than wall time on a shared machine):"
          f" reference {cpu_ref:.2f} s, jepaworld {cpu_ours:.2f} s -> {cpu_ref / cpu_ours:.2f}x")  # fmt: skip
    print(f"reference / jepaworld = {best_ref / best_ours:.2f}x (wall clock)")


if __name__ == "__main__":
    main()
