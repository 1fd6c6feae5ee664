"""The tools `jepaworld mcp RUN` offers, with their input schemas, as an MCP client lists them (Markdown).

    python examples/mcp_list_tools.py RUN
"""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import Client, StdioServerParameters


def _type(p: dict) -> str:
    if "anyOf" in p:
        return " or ".join(_type(x) for x in p["anyOf"])
    if "enum" in p:
        return " or ".join(json.dumps(v) for v in p["enum"])
    if p.get("type") == "array":
        return f"array of {_type(p.get('items', {}))}"
    return p.get("type", "any")


async def main(run: str) -> None:
    server = StdioServerParameters(command=sys.executable, args=["-m", "jepaworld", "mcp", run, "--threads", "1"],
                                   env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip
    async with Client(server) as c:
        for tool in (await c.list_tools()).tools:
            schema = tool.input_schema
            print(f"### `{tool.name}`\n\n{' '.join((tool.description or '').split())}\n")
            props = schema.get("properties", {})
            if not props:
                print("No arguments.\n")
                continue
            print("| argument | type | default | description |\n|---|---|---|---|")
            for name, p in props.items():
                default = "required" if name in schema.get("required", []) else f"`{json.dumps(p.get('default'))}`"
                print(f"| `{name}` | {_type(p)} | {default} | {p.get('description', '')} |")
            print()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    anyio.run(main, sys.argv[1])
