"""Load test of `jepaworld serve` on loopback: closed-loop Two-Room episodes from concurrent clients.

    python benchmarks/serve_load.py [--run runs/demo/run] [--clients 8,32] [--episodes 24]
        [--phase-seconds 120] [--baseline-seconds 60] [--threads 0]

Starts `jepaworld serve RUN` on 127.0.0.1 (an ephemeral port, a random token) in a subprocess,
once with dynamic batching (5 ms window, max batch 64) and once one request at a time (window 0,
max batch 1). In each, N concurrent clients (threads, one HTTP connection each) drive the first
--episodes episodes of the published protocol (held-out start, goal 25 steps later, budget 50
env steps) through server sessions, each client taking the next episode when it finishes one.
Prints per phase: p50/p99 latency of /act, requests/s, errors, success rate, mean rows per
planner call; then success beside a local evaluation of the same episodes (one LatentMPC per
episode, same seed, stepped in-process), how many episodes ended identically, and the batching
gain in requests/s. Every phase stops by itself after --phase-seconds; the server is stopped at
the end whatever happens. Talks to 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import os
import queue
import secrets
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

import jepaworld
from jepaworld.client import Client, RemoteController
from jepaworld.config import EvalConfig
from jepaworld.control import EpisodeResult, GoalEpisode, draw_episodes, run_episodes
from jepaworld.data import EpisodeFile
from jepaworld.envs import make
from jepaworld.plan import act_together

SEED = 1000  # session seed = SEED + episode index, locally and on the server


class LocalSessions:
    """What the server does with N sessions, in-process: one LatentMPC per episode, stepped together."""

    def __init__(self, wm, episodes: list[GoalEpisode]) -> None:
        self.ctrls = [wm.mpc(wm.config.plan, seed=SEED + ep.index) for ep in episodes]
        self.frameskip = self.ctrls[0].frameskip

    def reset(self, goals: np.ndarray) -> None:
        for c, g in zip(self.ctrls, goals, strict=True):
            c.reset(g)

    def act(self, obs: np.ndarray, active: np.ndarray | None = None) -> np.ndarray:
        return np.stack(act_together(self.ctrls, list(obs)))


class TimedClient(Client):
    """A client that records the latency of every /act call and counts failures."""

    def __init__(self, *args, stats: Phase, **kw) -> None:
        super().__init__(*args, **kw)
        self.stats = stats

    def request(self, method, path, body=None):
        if time.monotonic() > self.stats.deadline:
            raise TimeoutError("phase time is up")
        t0 = time.perf_counter()
        try:
            answer = super().request(method, path, body)
        except Exception:
            self.stats.add(errors=1)
            raise
        if path.endswith("/act"):
            self.stats.add(latency=time.perf_counter() - t0)
        return answer


@dataclass
class Phase:
    deadline: float
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    results: dict[int, EpisodeResult] = field(default_factory=dict)
    cut: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, latency: float | None = None, errors: int = 0) -> None:
        with self.lock:
            if latency is not None:
                self.latencies.append(latency)
            self.errors += errors


def outcome(r: EpisodeResult) -> tuple[bool, int, float]:
    return r.success, r.steps, r.final_distance


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: str, window_ms: float, max_batch: int, threads: int, token: str,
                 warm_frame: np.ndarray) -> tuple[subprocess.Popen, str]:  # fmt: skip
    """`jepaworld serve` in a subprocess on 127.0.0.1; returns once it has answered two warm-up plans."""
    port = free_port()
    cmd = [sys.executable, "-m", "jepaworld", "serve", run, "--host", "127.0.0.1", "--port", str(port),
           "--window-ms", str(window_ms), "--max-batch", str(max_batch), "--threads", str(threads),
           "--device", "cpu", "--log-level", "warning", "--timeout", "120"]  # fmt: skip
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(cmd, env={**os.environ, "JEPAWORLD_TOKEN": token}, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            log.seek(0)
            raise SystemExit(f"the server exited with code {proc.returncode}:\n{log.read().decode()[-2000:]}")
        try:
            with Client(url, token=token, timeout=60) as c:
                if c.health()["status"] == "ok":
                    for _ in range(2):  # warm-up: first calls allocate and pick kernels
                        c.plan(warm_frame, warm_frame)
                    return proc, url
        except OSError:
            time.sleep(0.2)
        except Exception as e:
            if "Connect" not in type(e).__name__:
                raise
            time.sleep(0.2)
    proc.kill()
    raise SystemExit("the server did not come up within 120 s")


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def scrape(url: str, token: str) -> dict[str, float]:
    with Client(url, token=token) as c:
        text = c.metrics()
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#") and "{" not in line:
            name, value = line.split()
            out[name] = float(value)
    return out


def run_phase(url: str, token: str, clients: int, episodes: list[GoalEpisode], budget: int, res: int,
              seconds: float) -> tuple[Phase, float]:  # fmt: skip
    todo: queue.Queue[GoalEpisode] = queue.Queue()
    for ep in episodes:
        todo.put(ep)
    phase = Phase(deadline=time.monotonic() + seconds)

    def client_loop() -> None:
        with TimedClient(url, token=token, timeout=150, stats=phase) as client:
            while True:
                try:
                    ep = todo.get_nowait()
                except queue.Empty:
                    return
                remote = None
                try:
                    remote = RemoteController(client, seed=SEED + ep.index)
                    [result] = run_episodes("tworoom", [ep], budget, res, remote)
                    with phase.lock:
                        phase.results[ep.index] = result
                except TimeoutError:
                    with phase.lock:
                        phase.cut += 1
                    return
                except Exception as e:  # counted in errors by TimedClient; keep going with the next episode
                    print(f"  episode {ep.index}: {type(e).__name__}: {e}", file=sys.stderr)
                finally:
                    if remote is not None:
                        try:
                            remote.close()
                        except Exception:
                            pass

    t0 = time.perf_counter()
    threads = [threading.Thread(target=client_loop, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 180)
    return phase, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--run", default="runs/demo/run")
    ap.add_argument("--data", default=None, help="the run's episode file, if it moved (held-out ids are the run's)")
    ap.add_argument("--clients", default="8,32", help="concurrent clients per phase, comma-separated")
    ap.add_argument("--episodes", type=int, default=32, help="episodes per phase (the same ones in every phase)")
    ap.add_argument("--phase-seconds", type=float, default=120.0, help="a batched phase stops after this long")
    ap.add_argument("--baseline-seconds", type=float, default=60.0, help="a one-at-a-time phase stops after this")
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads of the server and of the local run (0: torch's default; 1 suits a busy "
                         "2-core machine)")  # fmt: skip
    args = ap.parse_args()
    levels = [int(x) for x in args.clients.split(",")]
    if args.threads:
        torch.set_num_threads(args.threads)

    wm = jepaworld.load(args.run, device="cpu")
    meta, res = wm.meta, wm.meta.resolution
    data = Path(args.data or meta.data_path)
    if not data.exists():  # a relative path recorded at training time: try beside the run
        data = Path(args.run).resolve().parent / "data" / Path(meta.data_path).name
    probe = make(meta.env, resolution=res)
    ev = EvalConfig(episodes=args.episodes, goal_offset=25, budget=50, seed=0)
    episodes = draw_episodes(EpisodeFile(str(data)), list(meta.held_out), ev, solved=probe.is_success).episodes
    print(f"{meta.env} at {res} px, {len(episodes)} published-protocol episodes (goal +25, budget 50); planner: "
          f"{wm.config.plan.describe()}; {torch.get_num_threads()} torch threads", flush=True)  # fmt: skip

    t0 = time.perf_counter()
    local = {r.index: r for r in run_episodes(meta.env, episodes, ev.budget, res, LocalSessions(wm, episodes))}
    local_s = time.perf_counter() - t0
    local_ok = sum(r.success for r in local.values())
    print(f"local: {local_ok}/{len(local)} episodes succeed ({local_s:.0f} s, all episodes in one batch)", flush=True)
    del wm

    token = secrets.token_hex(16)
    rows = []
    for mode, window, max_batch, seconds in (("batched", 5.0, 64, args.phase_seconds),
                                             ("one-at-a-time", 0.0, 1, args.baseline_seconds)):  # fmt: skip
        proc, url = start_server(args.run, window, max_batch, args.threads, token, probe.render_state(episodes[0].goal))
        try:
            for n in levels:
                before = scrape(url, token)
                phase, wall = run_phase(url, token, n, episodes, ev.budget, res, seconds)
                after = scrape(url, token)
                calls = after["jepaworld_batch_size_count"] - before.get("jepaworld_batch_size_count", 0)
                planned = after["jepaworld_batch_size_sum"] - before.get("jepaworld_batch_size_sum", 0)
                lat = np.asarray(phase.latencies) if phase.latencies else np.asarray([np.nan])
                done = phase.results
                same = sum(outcome(r) == outcome(local[i]) for i, r in done.items())
                row = dict(mode=mode, clients=n, requests=len(phase.latencies), wall=wall,
                           rps=len(phase.latencies) / wall, p50=np.percentile(lat, 50), p99=np.percentile(lat, 99),
                           errors=phase.errors, episodes=len(done), cut=phase.cut,
                           success=sum(r.success for r in done.values()),
                           local=sum(local[i].success for i in done), same=same,
                           rows_per_call=planned / calls if calls else float("nan"))  # fmt: skip
                rows.append(row)
                print(f"{mode:>13} {n:>3} clients: {row['requests']} /act in {wall:.0f} s = {row['rps']:.2f} req/s, "
                      f"p50 {row['p50']:.2f} s, p99 {row['p99']:.2f} s, {row['errors']} errors, "
                      f"{row['rows_per_call']:.1f} envs per planner call; episodes done {len(done)} "
                      f"(cut at the time limit: {row['cut']}), success {row['success']}/{len(done)} vs local "
                      f"{row['local']}/{len(done)}, identical outcome {same}/{len(done)}", flush=True)  # fmt: skip
        finally:
            stop_server(proc)

    print("\nbatching gain (requests/s, batched vs one-at-a-time):")
    for n in levels:
        b = next(r for r in rows if r["mode"] == "batched" and r["clients"] == n)
        o = next(r for r in rows if r["mode"] == "one-at-a-time" and r["clients"] == n)
        print(f"  {n:>3} clients: {b['rps']:.2f} vs {o['rps']:.2f} req/s = {b['rps'] / o['rps']:.2f}x; "
              f"p50 latency {b['p50']:.2f} vs {o['p50']:.2f} s")


if __name__ == "__main__":
    main()
