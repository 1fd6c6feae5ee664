"""Atomic writes (``jepaworld.atomic``) and the config package's import graph."""

import ast
from pathlib import Path

import pytest

from jepaworld.atomic import atomic_folder, atomic_path, atomic_write_text


def test_atomic_path_replaces_whole_or_leaves_the_old_file(tmp_path):
    out = tmp_path / "sub" / "a.json"
    atomic_write_text(out, "old")
    assert out.read_text() == "old" and oct(out.stat().st_mode & 0o777) == "0o644"
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp.name.startswith(".a.json.") and tmp.suffix == ".json"
        tmp.write_text("half")
        raise RuntimeError("killed mid-write")
    assert out.read_text() == "old"
    assert sorted(p.name for p in out.parent.iterdir()) == ["a.json"]


def test_atomic_folder_replaces_an_existing_folder(tmp_path):
    out = tmp_path / "step-1"
    for text in ("one", "two"):
        with atomic_folder(out) as tmp:
            (tmp / "w.txt").write_text(text)
    assert (out / "w.txt").read_text() == "two"
    with pytest.raises(RuntimeError), atomic_folder(out) as tmp:
        raise RuntimeError
    assert sorted(p.name for p in tmp_path.iterdir()) == ["step-1"]


def test_config_modules_import_no_cycle():
    folder = Path(__file__).resolve().parents[1] / "jepaworld" / "config"
    graph = {}
    for f in folder.glob("*.py"):
        mod = f"jepaworld.config.{f.stem}"
        graph[mod] = {
            node.module
            for node in ast.walk(ast.parse(f.read_text()))
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("jepaworld.config.")
        }

    def visit(mod, path):
        assert mod not in path, f"import cycle: {' -> '.join([*path, mod])}"
        for dep in graph.get(mod, ()):
            visit(dep, [*path, mod])

    for mod in graph:
        visit(mod, [])
