"""A scripted orchestrator playing the LLM's part over MCP, beside the local Agent on the same episodes.

    python examples/mcp_two_room.py RUN [--episodes 20] [--agent guarded|planner] [--transcript FILE]

For each Two-Room episode (start and goal in different rooms, drawn from the seed), the orchestrator
talks to `jepaworld mcp RUN` over stdio with the MCP SDK's client, as an LLM would: it remembers
the door and the goal (a session started at each, `remember_goal`), starts the episode's session,
`go_to` door, then `go_to` goal, and reports in words. The same episodes then run locally with
`jepaworld.Agent` (same mode, seed and budget; door leg, then goal leg). It prints one line per
episode, both success counts, and whether every outcome matches; --transcript writes the first
episode's tool calls and answers (images left out) as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import anyio
import numpy as np
import torch
from mcp import Client, StdioServerParameters

import jepaworld
from jepaworld.agent import Agent
from jepaworld.envs import make
from jepaworld.envs.tworoom import DOOR_Y, WALL_X, cross_wall, sample_free

DOOR = [WALL_X, DOOR_Y]  # the doorway's centre, canvas pixels


def episodes(n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """n (start, goal) pairs in different rooms, episode i drawn from (seed, i)."""
    out = []
    for i in range(n):
        rng = np.random.default_rng((seed, i))
        while True:
            start, goal = sample_free(rng), sample_free(rng)
            if cross_wall(start, goal):
                out.append((start, goal))
                break
    return out


def _xy(p: np.ndarray | list[float]) -> str:
    return f"({p[0]:.0f}, {p[1]:.0f})"


async def through_mcp(run: str, eps: list, agent: str, leg: int, transcript: list[str] | None) -> list[dict]:
    """The orchestrator: the LLM's part, scripted."""
    server = StdioServerParameters(command=sys.executable, args=["-m", "jepaworld", "mcp", run, "--threads", "1"],
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip

    async def call(c: Client, tool: str, args: dict, log: bool) -> dict:
        r = await c.call_tool(tool, args)
        if log and transcript is not None:
            images = sum(b.type == "image" for b in r.content)
            transcript.append(f"**→ {tool}** `{json.dumps(args)}`\n\n```json\n{r.content[0].text}\n```\n"
                              + (f"*(+ {images} PNG image{'s' * (images > 1)})*\n" if images else ""))  # fmt: skip
        if r.is_error:
            raise RuntimeError(f"{tool}: {r.content[0].text}")
        return r.structured_content

    results = []
    async with Client(server) as c:
        await call(c, "describe", {}, True)
        door = await call(c, "start", {"state": DOOR}, True)
        await call(c, "remember_goal", {"name": "door", "session": door["session"], "replace": True}, True)
        await call(c, "close", {"session": door["session"]}, True)
        for i, (start, goal) in enumerate(eps):
            log = i == 0
            g = await call(c, "start", {"state": goal.tolist()}, log)
            await call(c, "remember_goal", {"name": "goal", "session": g["session"], "replace": True}, log)
            await call(c, "close", {"session": g["session"]}, log)
            sid = (await call(c, "start", {"state": start.tolist(), "seed": i}, log))["session"]
            first = await call(c, "go_to", {"session": sid, "goal": "door", "max_steps": leg, "agent": agent}, log)
            second = await call(c, "go_to", {"session": sid, "goal": "goal", "max_steps": leg, "agent": agent}, log)
            await call(c, "close", {"session": sid}, log)
            words = (f"Episode {i}: from {_xy(start)} to {_xy(goal)}, across the wall. To the door: "
                     f"{'reached' if first['reached'] else 'not reached'} in {first['steps']} steps. To the goal: "
                     f"{'reached' if second['reached'] else 'not reached'} in {second['steps']} steps, "
                     f"{second['distance_to_goal']:.0f} px away at the end.")  # fmt: skip
            if log and transcript is not None:
                transcript.append(f"**Orchestrator's report:** {words}\n")
            results.append({"reached": bool(second["reached"]), "steps": first["steps"] + second["steps"],
                            "final": second["state"]["agent"], "words": words})  # fmt: skip
    return results


def locally(run: str, eps: list, agent: str, leg: int) -> list[dict]:
    """The same episodes with ``jepaworld.Agent`` in this process: door leg, then goal leg."""
    torch.set_num_threads(1)
    wm = jepaworld.load(run, device="cpu")
    fs = wm.meta.frameskip
    results = []
    for i, (start, goal) in enumerate(eps):
        env = make("tworoom", resolution=wm.meta.resolution)
        env.reset(seed=i)
        env.set_state(start)
        obs, steps = env.render(), 0
        a = Agent(wm, agent, seed=i)
        for target in (np.asarray(DOOR, np.float32), goal):
            a.reset(env.render_state(target))
            used, reached = 0, env.is_success(env.get_state(), target)
            while used < leg and not reached:
                block = a.act(obs)
                for k in range(min(fs, leg - used)):
                    obs = env.step(block[k])[0]
                    used += 1
                    if env.is_success(env.get_state(), target):
                        reached = True
                        break
            steps += used
        x, y = env.get_state()
        results.append({"reached": bool(reached), "steps": steps, "final": {"x": round(float(x), 2),
                                                                            "y": round(float(y), 2)}})  # fmt: skip
    return results


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("run", help="A Two-Room run folder (trained; `jepaworld distill RUN` for --agent guarded).")
    p.add_argument("--episodes", type=int, default=20)
    p.add_argument("--agent", choices=("guarded", "planner"), default="guarded")
    p.add_argument("--leg", type=int, default=100, help="go_to's max_steps for each leg (door, goal).")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--transcript", help="Write the first episode's tool calls and answers here (Markdown).")
    args = p.parse_args()
    eps = episodes(args.episodes, args.seed)
    transcript: list[str] | None = [] if args.transcript else None
    t0 = time.perf_counter()
    remote = anyio.run(through_mcp, args.run, eps, args.agent, args.leg, transcript)
    t1 = time.perf_counter()
    local = locally(args.run, eps, args.agent, args.leg)
    t2 = time.perf_counter()
    same = 0
    for i, (r, loc) in enumerate(zip(remote, local, strict=True)):
        match = r["reached"] == loc["reached"] and r["steps"] == loc["steps"] and r["final"] == loc["final"]
        same += match
        said = ["missed ", "reached"]
        print(f"{i:3d}  mcp {said[r['reached']]} {r['steps']:4d} steps   local {said[loc['reached']]} "
              f"{loc['steps']:4d} steps   {'same' if match else 'DIFFER'}")
    n = len(eps)
    print(f"\n{args.agent} agent, {n} cross-wall Two-Room episodes (seed {args.seed}), door then goal, "
          f"{args.leg} steps per leg, run {args.run}")  # fmt: skip
    print(f"success through MCP: {sum(r['reached'] for r in remote)}/{n} ({t1 - t0:.0f} s, server start included)")
    print(f"success locally:     {sum(r['reached'] for r in local)}/{n} ({t2 - t1:.0f} s)")
    print(f"episodes identical (success, steps, final state): {same}/{n}")
    print(f"\nfirst report: {remote[0]['words']}")
    if args.transcript:
        path = Path(args.transcript)
        tmp = path.with_suffix(path.suffix + ".tmp")
        tmp.write_text("\n".join(transcript), encoding="utf-8")
        tmp.replace(path)
        print(f"transcript: {path}")


if __name__ == "__main__":
    main()
