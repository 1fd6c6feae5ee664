"""The world model as tools for an LLM agent, over the Model Context Protocol (``jepaworld mcp RUN``; ``mcp`` extra).

    world = World(jepaworld.load(run), WorldSettings(memory="mem.sqlite"))
    create_server(world).run("stdio")                   # or http_app(...) under uvicorn

``world.py`` (what the tools do: sessions, goals), ``session.py`` (one live env), ``pursue.py``
(go_to's closed loop), ``probe.py`` (the entity probe, the distilled agent), ``describe.py`` (units
and words), ``images.py`` (PNG in and out), ``server.py`` (the tools, their schemas and errors,
the HTTP app).
"""

from jepaworld.mcp.server import create_server, http_app
from jepaworld.mcp.world import Answer, World, WorldSettings

__all__ = ["Answer", "World", "WorldSettings", "create_server", "http_app"]
