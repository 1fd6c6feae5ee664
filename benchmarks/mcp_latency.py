"""Tool-call latency of `jepaworld mcp RUN` over stdio, as an MCP client sees it: observe, and go_to per env step.

    python benchmarks/mcp_latency.py RUN [--observe 200] [--goals 20] [--max-steps 50]

Starts the server as a subprocess (one torch thread, like the client's own loop) and calls it with
the MCP SDK's client. observe: one session, ``--observe`` calls. go_to: ``--goals`` episodes per
agent (random start and goal from seeds 0..goals-1, Two-Room or any env whose state the first
``describe`` names), each call's wall time divided by the env steps it took; beside it the server's
own loop time per step (``ms_per_step`` in the answer), so the difference is what the protocol
costs. Prints p50 / p99 (ms) per tool and agent, and the server's start-up time.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import anyio
import numpy as np
from mcp import Client, StdioServerParameters

from jepaworld.envs.tworoom import sample_free


def pct(values: list[float]) -> str:
    v = np.asarray(values)
    return f"{np.percentile(v, 50):8.1f} {np.percentile(v, 99):8.1f}   (n={len(v)})"


async def bench(run: str, n_observe: int, goals: int, max_steps: int, agents: list[str]) -> None:
    server = StdioServerParameters(command=sys.executable, args=["-m", "jepaworld", "mcp", run, "--threads", "1"],
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    t0 = time.perf_counter()
    async with Client(server) as c:
        info = (await c.call_tool("describe", {})).structured_content
        started = time.perf_counter() - t0
        if info["env"] != "tworoom":
            raise SystemExit(f"this benchmark draws Two-Room states; {run} is a {info['env']} run")
        sid = (await c.call_tool("start", {"seed": 0})).structured_content["session"]
        await c.call_tool("observe", {"session": sid})  # warm
        obs = []
        for _ in range(n_observe):
            t = time.perf_counter()
            r = await c.call_tool("observe", {"session": sid})
            obs.append(1000 * (time.perf_counter() - t))
            assert not r.is_error, r.content[0].text
        await c.call_tool("close", {"session": sid})
        rows = {}
        for agent in agents:
            client_ms, server_ms, steps = [], [], 0
            for i in range(goals):
                rng = np.random.default_rng((1, i))
                start, goal = sample_free(rng).tolist(), sample_free(rng).tolist()
                g = (await c.call_tool("start", {"state": goal})).structured_content["session"]
                await c.call_tool("remember_goal", {"name": "bench", "session": g, "replace": True})
                await c.call_tool("close", {"session": g})
                sid = (await c.call_tool("start", {"state": start, "seed": i})).structured_content["session"]
                t = time.perf_counter()
                r = await c.call_tool("go_to", {"session": sid, "goal": "bench", "max_steps": max_steps,
                                                "agent": agent})  # fmt: skip
                wall = 1000 * (time.perf_counter() - t)
                if r.is_error:
                    raise SystemExit(f"go_to ({agent}): {r.content[0].text}")
                went = r.structured_content
                if went["steps"]:
                    client_ms.append(wall / went["steps"])
                    server_ms.append(went["ms_per_step"])
                steps += went["steps"]
                await c.call_tool("close", {"session": sid})
            rows[agent] = (client_ms, server_ms, steps)
    print(f"jepaworld mcp {run}: {info['env']}, run step {info['run']['step']}, {info['run']['resolution']} px; "
          f"planner {info['agents']['planner']}")  # fmt: skip
    print(f"server start-up to the first describe answer: {started:.1f} s\n")
    print(f"{'tool (ms)':34s} {'p50':>8s} {'p99':>8s}")
    print(f"{'observe, per call':34s} {pct(obs)}")
    for agent, (client_ms, server_ms, steps) in rows.items():
        print(f"{f'go_to {agent}, per env step':34s} {pct(client_ms)}  {steps} steps in {goals} calls")
        print(f"{'  of which the loop itself':34s} {pct(server_ms)}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="A Two-Room run folder.")
    p.add_argument("--observe", type=int, default=200, help="observe calls.")
    p.add_argument("--goals", type=int, default=20, help="go_to calls per agent.")
    p.add_argument("--max-steps", type=int, default=50, help="go_to's budget per call.")
    p.add_argument("--agents", default="guarded,planner", help="Comma-separated: guarded, planner.")
    a = p.parse_args()
    anyio.run(bench, a.run, a.observe, a.goals, a.max_steps, [s for s in a.agents.split(",") if s])


if __name__ == "__main__":
    main()
