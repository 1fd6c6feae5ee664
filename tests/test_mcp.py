"""The MCP server, driven by the SDK's own client: every tool over stdio, bad arguments answered as tool errors
while the server stays up, streamable HTTP behind a token, session bounds and expiry, go_to = the local Agent."""

from __future__ import annotations

import base64
import io
import os
import shutil
import socket
import subprocess
import sys
import time

import anyio
import numpy as np
import pytest

pytest.importorskip("mcp")

import httpx2  # noqa: E402  (the MCP SDK's HTTP client)
from mcp import Client, StdioServerParameters  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

import jepaworld  # noqa: E402
from jepaworld.agent import Agent, DistillConfig, FitSettings, distill  # noqa: E402
from jepaworld.config import PlanConfig  # noqa: E402
from jepaworld.envs import make  # noqa: E402
from jepaworld.mcp import World, WorldSettings, create_server  # noqa: E402
from jepaworld.memory import build_memory  # noqa: E402

PLAN = PlanConfig(samples=8, elites=2, iterations=1, horizon=2, receding=1, cost="min")
PLAN_SET = ["--set", "plan.samples=8", "--set", "plan.elites=2", "--set", "plan.iterations=1", "--set",
            "plan.horizon=2", "--set", "plan.receding=1", "--set", "plan.cost=min"]  # fmt: skip
TINY = dict(episodes=4, max_k=4, hindsight_pairs=200, planner_labels=12, label_batch=6, dagger_rounds=1,
            dagger_episodes=3, goal_offset=10, budget=15, guard_rollouts=6,
            fit=FitSettings(steps=20, batch_size=32))  # fmt: skip
TOOLS = {"describe", "start", "observe", "remember_goal", "list_goals", "forget_goal", "imagine", "go_to", "step",
         "close"}  # fmt: skip
ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def served(tiny_run, tmp_path_factory):
    """A copy of the tiny run with a distilled policy and guard, and a memory of its episodes."""
    run = tmp_path_factory.mktemp("mcp") / "run"
    shutil.copytree(tiny_run, run)
    wm = jepaworld.load(run, device="cpu")
    distill(wm, DistillConfig(**TINY), plan=PLAN)
    memory = run / "memory.sqlite"
    build_memory(wm, memory, chunk=6)
    return run, memory


def _png(frame: np.ndarray) -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _stdio(run, *args: str) -> StdioServerParameters:
    return StdioServerParameters(command=sys.executable, args=["-m", "jepaworld", "mcp", str(run), "--threads", "1",
                                                               *PLAN_SET, *args], env=ENV)  # fmt: skip


async def _ok(client: Client, tool: str, args: dict) -> dict:
    r = await client.call_tool(tool, args)
    assert not r.is_error, (tool, r.content[0].text)
    return r.structured_content


# (tool, arguments, what the error must say); "SID" and "GOAL" are filled in with a live session / goal
BAD = [
    ("start", {"seed": "x"}, "seed"),
    ("start", {"state": [50.0]}, "state: 1 numbers"),
    ("start", {"state": [112.0, 150.0]}, "overlaps a wall"),
    ("observe", {"session": "nope"}, "no session 'nope'"),
    ("observe", {}, "session"),
    ("observe", {"session": 7}, "session"),
    ("go_to", {"session": "SID", "goal": "nowhere"}, "no goal named 'nowhere'"),
    ("go_to", {"session": "SID", "goal": "GOAL", "max_steps": 10**9}, "max_steps"),
    ("go_to", {"session": "SID", "goal": "GOAL", "max_steps": 0}, "max_steps"),
    ("go_to", {"session": "SID", "goal": "GOAL", "agent": "teleport"}, "agent"),
    ("go_to", {"session": "SID", "goal": "GOAL", "max_steps": "many"}, "max_steps"),
    ("step", {"session": "SID", "actions": [[5.0, 0.0]]}, "leaves the action box"),
    ("step", {"session": "SID", "actions": [[1.0]]}, "every action has 2"),
    ("step", {"session": "SID", "actions": []}, "give 1 to"),
    ("step", {"session": "SID", "actions": "left"}, "actions"),
    ("imagine", {"session": "SID", "actions": [[0.0, 0.0]] * 3}, "multiple of"),
    ("remember_goal", {"name": "x", "image": "not base64!!"}, "not valid base64"),
    ("remember_goal", {"name": "x", "image": base64.b64encode(b"hello").decode()}, "not a PNG"),
    ("remember_goal", {"name": "x"}, "exactly one of session"),
    ("remember_goal", {"name": "bad name!", "session": "SID"}, "goal name"),
    ("remember_goal", {"name": "GOAL", "session": "SID"}, "already remembered"),
    ("forget_goal", {"name": "nowhere"}, "no goal named 'nowhere'"),
    ("no_such_tool", {}, "no_such_tool"),
]


def test_every_tool_over_stdio_and_bad_arguments_are_tool_errors(served, tiny_run):
    run, memory = served

    async def main() -> None:
        async with Client(_stdio(run, "--memory", str(memory), "--max-sessions", "3")) as c:
            tools = {t.name: t for t in (await c.list_tools()).tools}
            assert set(tools) == TOOLS
            assert tools["go_to"].input_schema["required"] == ["session", "goal"]
            info = await _ok(c, "describe", {})
            assert info["env"] == "tworoom" and info["entities"]["agent"]["fields"] == ["x", "y"]
            assert info["default_agent"] == "guarded" and info["surprise_threshold"] > 0
            assert info["memory"]["persistent"] and info["memory"]["remembered_states"] > 0

            r = await c.call_tool("start", {"state": [50.0, 180.0]})
            assert [b.type for b in r.content] == ["text", "image"] and r.content[1].mime_type == "image/png"
            assert base64.b64decode(r.content[1].data)[:4] == b"\x89PNG"
            s = r.structured_content
            sid = s["session"]
            assert s["state"] == {"agent": {"x": 50.0, "y": 180.0}} and set(s["entities"]["agent"]) == {"x", "y"}
            assert s["nearest_remembered"]["episode"] >= 0
            g = (await _ok(c, "start", {"state": [180.0, 180.0]}))["session"]
            goal = await _ok(c, "remember_goal", {"name": "goal", "session": g})
            assert goal["state"] == {"agent": {"x": 180.0, "y": 180.0}}
            frame = make("tworoom", resolution=16).reset(options={"state": [60.0, 60.0]})[0]
            assert (await _ok(c, "remember_goal", {"name": "pic", "image": _png(frame)}))["state"] is None
            assert [x["name"] for x in (await _ok(c, "list_goals", {}))["goals"]] == ["goal", "pic"]
            assert (await _ok(c, "forget_goal", {"name": "pic"}))["goals"] == ["goal"]
            await _ok(c, "close", {"session": g})

            seen = await _ok(c, "observe", {"session": sid})
            assert seen["step"] == 0 and seen["nearest_remembered"] is not None
            fs = jepaworld.load(run, device="cpu").meta.frameskip
            acts = [[1.0, 0.0]] * (2 * fs)
            imagined = await _ok(c, "imagine", {"session": sid, "actions": acts})
            assert [p["block"] for p in imagined["predictions"]] == [1, 2]
            stepped = await _ok(c, "step", {"session": sid, "actions": acts})
            assert stepped["step"] == 2 * fs and len(stepped["surprise"]) == 2
            assert [d["block"] for d in stepped["imagination"]] == [1, 2]
            assert all(d["latent_error"] >= 0 for d in stepped["imagination"])
            assert stepped["state"]["agent"]["x"] == 50.0 + 2 * fs * 5.0  # 5 px per step to the right
            part = await _ok(c, "step", {"session": sid, "actions": [[0.0, -1.0]]})
            assert part["pending_actions"] == 1 and part["surprise"] == []
            r = await c.call_tool("imagine", {"session": sid, "actions": acts})
            assert r.is_error and f"step {fs - 1} more actions first" in r.content[0].text
            await _ok(c, "step", {"session": sid, "actions": [[0.0, -1.0]] * (fs - 1)})

            r = await c.call_tool("go_to", {"session": sid, "goal": "goal", "max_steps": 12, "agent": "planner"})
            went = r.structured_content
            assert not r.is_error and len(r.content) == 3  # text, film strip, final frame
            assert went["routed_through_memory"] and 0 < went["steps"] <= 12 and went["plans"] >= 1
            assert isinstance(went["reached"], bool) and went["step"] == 3 * fs + went["steps"]
            went = await _ok(c, "go_to", {"session": sid, "goal": "goal", "max_steps": 10})
            assert went["agent"] == "guarded" and not went["routed_through_memory"] and went["steps"] <= 10

            extra = [(await _ok(c, "start", {"seed": i}))["session"] for i in range(2)]
            full = await c.call_tool("start", {"seed": 9})  # 3 open: the bound
            assert full.is_error and "sessions are open" in full.content[0].text
            for e in extra:
                await _ok(c, "close", {"session": e})

            for tool, args, says in BAD:
                args = {k: {"SID": sid, "GOAL": "goal"}.get(v, v) if isinstance(v, str) else v
                        for k, v in args.items()}  # fmt: skip
                r = await c.call_tool(tool, args)
                assert r.is_error, (tool, args)
                assert says in r.content[0].text, (tool, args, r.content[0].text)
                assert (await c.call_tool("describe", {})).is_error is False  # still up

            await _ok(c, "close", {"session": sid})
            gone = await c.call_tool("observe", {"session": sid})
            assert gone.is_error and "no session" in gone.content[0].text

    anyio.run(main)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_streamable_http_behind_a_token(served, tmp_path):
    run, _ = served
    port, token = _free_port(), "t" * 32
    proc = subprocess.Popen([sys.executable, "-m", "jepaworld", "mcp", str(run), "--http", "--port", str(port),
                             "--threads", "1", *PLAN_SET], env={**ENV, "JEPAWORLD_TOKEN": token},
                            stderr=subprocess.PIPE)  # fmt: skip
    url = f"http://127.0.0.1:{port}/mcp"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read().decode()
                assert time.monotonic() < deadline, "the server did not listen within 60 s"
                time.sleep(0.2)
        assert httpx2.post(url, json={}).status_code == 401  # no token

        async def main() -> None:
            headers = {"Authorization": f"Bearer {token}"}
            async with httpx2.AsyncClient(headers=headers) as http:
                async with Client(streamable_http_client(url, http_client=http)) as c:
                    assert {t.name for t in (await c.list_tools()).tools} == TOOLS
                    sid = (await _ok(c, "start", {"state": [50.0, 50.0]}))["session"]
                    assert (await _ok(c, "observe", {"session": sid}))["state"] == {"agent": {"x": 50.0, "y": 50.0}}
                    bad = await c.call_tool("step", {"session": sid, "actions": [[0.0, 9.0]]})
                    assert bad.is_error and "action box" in bad.content[0].text
                    await _ok(c, "close", {"session": sid})

        anyio.run(main)
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_refuses_a_public_address_without_a_token(served):
    run, _ = served
    r = subprocess.run([sys.executable, "-m", "jepaworld", "mcp", str(run), "--http", "--host", "0.0.0.0"],
                       env={k: v for k, v in ENV.items() if k != "JEPAWORLD_TOKEN"}, capture_output=True, text=True,
                       timeout=120)  # fmt: skip
    assert r.returncode == 2 and "without a token" in r.stderr


def test_sessions_expire_and_go_to_equals_the_local_agent(served):
    """In process: an idle session expires; go_to's closed loop is the local Agent's, step for step."""
    run, _ = served
    wm = jepaworld.load(run, device="cpu")
    wm.config.plan = PLAN
    world = World(wm, WorldSettings(session_ttl_s=60.0))
    now = [0.0]
    world.sessions.clock = lambda: now[0]

    async def main() -> dict:
        async with Client(create_server(world)) as c:
            old = (await _ok(c, "start", {"seed": 1}))["session"]
            now[0] = 61.0
            r = await c.call_tool("observe", {"session": old})
            assert r.is_error and "expired after 60 s" in r.content[0].text
            g = (await _ok(c, "start", {"state": [180.0, 60.0]}))["session"]
            await _ok(c, "remember_goal", {"name": "goal", "session": g})
            sid = (await _ok(c, "start", {"state": [40.0, 60.0], "seed": 3}))["session"]
            return await _ok(c, "go_to", {"session": sid, "goal": "goal", "max_steps": 15, "agent": "planner"})

    went = anyio.run(main)
    world.close()
    env = make("tworoom", resolution=wm.meta.resolution)
    env.reset(seed=3)
    env.set_state(np.array([40.0, 60.0], np.float32))
    agent = Agent(wm, "planner", plan=PLAN, seed=3)
    agent.reset(env.render_state(np.array([180.0, 60.0], np.float32)))
    obs, used = env.render(), 0
    while used < 15 and not env.is_success(env.get_state(), np.array([180.0, 60.0])):
        block = agent.act(obs)
        for k in range(min(wm.meta.frameskip, 15 - used)):
            obs = env.step(block[k])[0]
            used += 1
            if env.is_success(env.get_state(), np.array([180.0, 60.0])):
                break
    assert went["steps"] == used
    assert went["state"]["agent"] == {k: round(float(v), 2) for k, v in zip("xy", env.get_state(), strict=True)}
