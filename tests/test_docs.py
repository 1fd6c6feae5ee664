"""The documentation: every CLI command and config key has its reference entry, the nav names real
pages, and the README stays short and runnable (its commands parse, its Python quickstart runs).

The site itself is built strictly by ``make docs`` (in CI) and opened in a browser by ``make docs-check``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer
import yaml

from jepaworld.cli.main import app

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def _hook() -> Any:
    spec = importlib.util.spec_from_file_location("docs_reference_hook", DOCS / "hooks" / "reference.py")
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _commands(cmd: Any, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    """Every command and group under the Typer app, walked here independently of the docs hook."""
    found = [(path, cmd)]
    for name, sub in getattr(cmd, "commands", {}).items():
        if not sub.hidden:
            found += _commands(sub, (*path, name))
    return found


def _sections(markdown: str) -> dict[str, str]:
    """Heading id -> the text of its section (up to the next heading of a command)."""
    parts = re.split(r"^#{2,3} .*\{#([\w-]+)\}$", markdown, flags=re.M)
    return {parts[i]: parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_every_cli_command_has_a_reference_entry_with_its_options():
    hook = _hook()
    sections = _sections(hook.cli_markdown())
    commands = _commands(typer.main.get_command(app))
    assert len(commands) > 10
    for path, cmd in commands:
        anchor = "-".join(("jepaworld", *path))
        assert anchor in sections, f"`jepaworld {' '.join(path)}` has no entry in the CLI reference"
        for param in cmd.params:
            if param.hidden:
                continue
            is_argument = param.param_type_name == "argument"
            names = [param.name.upper()] if is_argument else [*param.opts, *param.secondary_opts]
            for name in names:
                assert f"`{name}`" in sections[anchor], f"`jepaworld {' '.join(path)}` {name} is not documented"


def test_every_config_key_has_a_reference_entry_with_its_range():
    from jepaworld.config import Config

    page = _hook().config_markdown()
    for section in dataclasses.fields(Config):
        for field in dataclasses.fields(type(getattr(Config(), section.name))):
            assert f"| `{section.name}.{field.name}` |" in page, f"{section.name}.{field.name} missing"
    assert "| `train.steps` | `int` | `2000` | ≥ 1 |" in page
    assert "one of `cem`" not in page and "one of `iid`, `block`, `colored`" in page


def test_memory_schema_is_read_from_the_store():
    schema = _hook().memory_schema()
    assert "CREATE TABLE states" in schema and "CREATE TABLE edges" in schema


def _nav_pages(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [p for item in node for p in _nav_pages(item)]
    if isinstance(node, dict):
        return [p for value in node.values() for p in _nav_pages(value)]
    return []


def test_nav_names_existing_or_generated_pages():
    hook = _hook()
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = _nav_pages(config["nav"])
    assert hook.CLI_PAGE in pages and hook.CONFIG_PAGE in pages
    for page in pages:
        assert page in (hook.CLI_PAGE, hook.CONFIG_PAGE) or (DOCS / page).is_file(), f"nav page {page} missing"
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    assert on_disk <= set(pages), f"pages outside the nav: {sorted(on_disk - set(pages))}"


def test_readme_is_short():
    assert len(README.read_text().splitlines()) <= 150


def _readme_commands() -> list[str]:
    lines = []
    for block in re.findall(r"```bash\n(.*?)```", README.read_text(), re.S):
        for line in block.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("jepaworld "):
                lines.append(line)
    return lines


def test_readme_commands_parse():
    """Every `jepaworld ...` line of the README names real commands and options with valid values."""
    root = typer.main.get_command(app)
    commands = _readme_commands()
    assert len(commands) >= 8
    for line in commands:
        args = shlex.split(line)[1:]
        cmd, name = root, "jepaworld"
        while getattr(cmd, "commands", None) and args and args[0] in cmd.commands:
            name = args.pop(0)
            cmd = cmd.commands[name]
        assert not getattr(cmd, "commands", None), f"{line!r} stops at a command group"
        cmd.make_context(name, args)  # raises on an unknown option or a bad value


def test_readme_python_quickstart_runs(tiny_run):
    """The README's Python quickstart, on a tiny run at its own resolution (the demo's run needs minutes)."""
    import jepaworld

    text = README.read_text().split("## Python quickstart", 1)[1]
    code = re.search(r"```python\n(.*?)```", text, re.S).group(1)
    resolution = jepaworld.load(tiny_run).meta.resolution
    code = code.replace('"runs/demo/run"', repr(tiny_run)).replace("resolution=64", f"resolution={resolution}")
    code = "\n".join(line for line in code.splitlines() if "Agent(" not in line)  # needs `jepaworld distill`
    code = code.replace("range(10)", "range(2)")
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)  # noqa: S102 - the README's own example
    assert namespace["obs"].shape == (resolution, resolution, 3)


def test_swagger_ui_is_served_from_the_package():
    pytest.importorskip("fastapi")
    pytest.importorskip("swagger_ui_bundle")
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from jepaworld.serve.docs_page import add_docs_page

    api = FastAPI(docs_url=None, redoc_url=None)
    add_docs_page(api)
    client = TestClient(api)
    page = client.get("/docs")
    assert page.status_code == 200
    refs = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert refs and all(r.startswith("/docs/assets/") for r in refs), refs
    assert "http" not in page.text.replace("window.location", "")
    for ref in refs:
        asset = client.get(ref)
        assert asset.status_code == 200 and len(asset.content) > 100, ref
