"""Memory: a persistent SQLite store of remembered states, named goals, entities and transitions,
and long-horizon planning through it (a route of subgoals, each pursued by the latent planner).

    from jepaworld.memory import build_memory, Navigator, MemoryStore
"""

from jepaworld.memory.build import BuildResult, build_memory, load_decoder, open_for
from jepaworld.memory.entities import Condition, StateDecoder, env_entities
from jepaworld.memory.graph import GraphConfig, MemoryGraph
from jepaworld.memory.index import NearestIndex
from jepaworld.memory.navigate import Navigator, NavigatorConfig
from jepaworld.memory.store import SCHEMA_VERSION, Goal, MemoryHeader, MemoryStore, StateRow

__all__ = [
    "SCHEMA_VERSION", "BuildResult", "Condition", "Goal", "GraphConfig", "MemoryGraph", "MemoryHeader", "MemoryStore",
    "Navigator", "NavigatorConfig", "NearestIndex", "StateDecoder", "StateRow", "build_memory", "env_entities",
    "load_decoder", "open_for",
]  # fmt: skip
