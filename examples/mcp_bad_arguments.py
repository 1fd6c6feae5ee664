"""Bad calls to `jepaworld mcp RUN` and what the server answers, as a Markdown table (the guide's table).

    python examples/mcp_bad_arguments.py RUN

Each call goes over stdio with the MCP SDK's client; every one must come back as a tool error
(``isError``), and a `describe` after each shows the server still answering.
"""

from __future__ import annotations

import base64
import json
import os
import sys

import anyio
from mcp import Client, StdioServerParameters

SID, GOAL = "<session>", "goal"
CALLS = [
    ("start", {"seed": "x"}),
    ("start", {"state": [50.0]}),
    ("start", {"state": [112.0, 150.0]}),
    ("observe", {"session": "nope"}),
    ("observe", {}),
    ("go_to", {"session": SID, "goal": "nowhere"}),
    ("go_to", {"session": SID, "goal": GOAL, "max_steps": 10**9}),
    ("go_to", {"session": SID, "goal": GOAL, "agent": "teleport"}),
    ("step", {"session": SID, "actions": [[5.0, 0.0]]}),
    ("step", {"session": SID, "actions": [[1.0]]}),
    ("step", {"session": SID, "actions": "left"}),
    ("imagine", {"session": SID, "actions": [[0.0, 0.0]] * 3}),
    ("remember_goal", {"name": "x", "image": base64.b64encode(b"hello").decode()}),
    ("remember_goal", {"name": "x", "image": "not base64!!"}),
    ("remember_goal", {"name": "x"}),
    ("remember_goal", {"name": GOAL, "session": SID}),
    ("forget_goal", {"name": "nowhere"}),
]


async def main(run: str) -> None:
    server = StdioServerParameters(command=sys.executable, args=["-m", "jepaworld", "mcp", run, "--threads", "1"],
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    async with Client(server) as c:
        sid = (await c.call_tool("start", {"state": [50.0, 180.0]})).structured_content["session"]
        await c.call_tool("remember_goal", {"name": GOAL, "session": sid})
        print("| tool | arguments | tool error (message) | server up after |\n|---|---|---|---|")
        for tool, args in CALLS:
            sent = {k: (sid if v == SID else v) for k, v in args.items()}
            r = await c.call_tool(tool, sent)
            up = not (await c.call_tool("describe", {})).is_error
            message = " ".join(r.content[0].text.split()).replace("|", "\\|")
            shown = json.dumps(args).replace("|", "\\|")
            shown = shown if len(shown) < 80 else shown[:77] + "...}"
            print(f"| `{tool}` | `{shown}` | {'yes' if r.is_error else 'NO'}: {message} | {'yes' if up else 'NO'} |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    anyio.run(main, sys.argv[1])
