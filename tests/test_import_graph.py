"""No import cycle in the package: every ``jepaworld`` import, lazy ones (inside functions) and those
under ``TYPE_CHECKING`` included, read with ``ast`` without importing anything."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "jepaworld"


def module_name(path: Path, root: Path = PACKAGE) -> str:
    parts = path.relative_to(root.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """module -> the package modules it imports (``from pkg import name``: ``pkg.name`` when that is a module,
    else ``pkg``). The parents of an imported module are not edges: Python runs their ``__init__`` first, but
    that is how packages work, not what the importer depends on."""
    files = {module_name(f, root): f for f in root.rglob("*.py")}
    graph: dict[str, set[str]] = {m: set() for m in files}
    for mod, path in files.items():
        is_pkg = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:  # relative: resolve against this module's package
                    anchor = mod.split(".") if is_pkg else mod.split(".")[:-1]
                    anchor = anchor[: len(anchor) - (node.level - 1)]
                    base = ".".join([*anchor, base] if base else anchor)
                subs = [f"{base}.{a.name}" for a in node.names]
                targets = [t if t in files else base for t in subs]
            for t in targets:
                if t in files and t != mod:
                    graph[mod].add(t)
    return graph


def components(graph: dict[str, set[str]]) -> list[set[str]]:
    """The strongly connected components of more than one module: each is one or more cycles."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    components: list[set[str]] = []

    def connect(v: str) -> None:  # Tarjan
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = set()
            while True:
                w = stack.pop()
                on.discard(w)
                comp.add(w)
                if w == v:
                    break
            if len(comp) > 1:
                components.append(comp)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    return sorted(components, key=min)


def cycle_in(graph: dict[str, set[str]], comp: set[str]) -> list[str]:
    """The shortest cycle through the first module of a component, as a path back to it."""
    start = min(comp)
    paths = {start: [start]}
    frontier = [start]
    while True:  # breadth first inside the component: it always leads back to start
        nxt = []
        for v in frontier:
            for w in sorted(graph[v] & comp):
                if w == start:
                    return [*paths[v], start]
                if w not in paths:
                    paths[w] = [*paths[v], w]
                    nxt.append(w)
        frontier = nxt


def test_the_scan_sees_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "jepaworld"
    (pkg / "a").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a" / "__init__.py").write_text("from .x import f\n")
    (pkg / "a" / "x.py").write_text("def f():\n    from jepaworld.b import g\n    return g\n")
    (pkg / "b.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from jepaworld.a import x\n")
    graph = import_graph(pkg)
    assert graph["jepaworld.a"] == {"jepaworld.a.x"}
    assert graph["jepaworld.a.x"] == {"jepaworld.b"}
    assert graph["jepaworld.b"] == {"jepaworld.a.x"}
    [comp] = components(graph)
    assert comp == {"jepaworld.a.x", "jepaworld.b"}
    assert cycle_in(graph, comp) == ["jepaworld.a.x", "jepaworld.b", "jepaworld.a.x"]


def test_no_import_cycle_in_the_package():
    graph = import_graph()
    named = [f"{' -> '.join(cycle_in(graph, comp))} ({len(comp)} modules in all: {', '.join(sorted(comp))})"
             for comp in components(graph)]  # fmt: skip
    assert not named, "import cycles (lazy imports count; move what both sides need below them):\n" + "\n".join(named)
