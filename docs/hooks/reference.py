"""MkDocs hook: reference pages generated at build time from the code itself, never retyped.

- ``reference/cli.md``: every ``jepaworld`` command and sub-command with its usage, help, arguments
  and options, read from the Typer app (so a new command appears on its own);
- ``reference/config.md``: every config key with its type, default, comment and allowed range, read
  from the dataclasses in ``jepaworld/config/schema.py`` and the checks in ``jepaworld/config/checks.py``.

``tests/test_docs.py`` imports this file to check that every command has its entry.
"""

from __future__ import annotations

import ast
import dataclasses
import enum
import html
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

CLI_PAGE = "reference/cli.md"
CONFIG_PAGE = "reference/config.md"
_TYPE_NAMES = {int: "INTEGER", float: "FLOAT", str: "TEXT", Path: "PATH", bool: "BOOLEAN"}


# -- the command line -------------------------------------------------------------------------------
def cli_root() -> Any:
    """The command object behind ``jepaworld`` (Typer's own click; importing the CLI is light: no torch)."""
    import typer

    from jepaworld.cli.main import app

    return typer.main.get_command(app)


def subcommands(cmd: Any) -> dict[str, Any]:
    """A group's visible commands by name, in the order they were added ({} for a plain command)."""
    return {name: sub for name, sub in getattr(cmd, "commands", {}).items() if not sub.hidden}


def walk_commands(cmd: Any, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], Any]]:
    """Yield ``(path, command)`` for the root (path ``()``) and every command and group below it, in order."""
    yield path, cmd
    for name, sub in subcommands(cmd).items():
        yield from walk_commands(sub, (*path, name))


def is_argument(param: Any) -> bool:
    return param.param_type_name == "argument"


def anchor(path: tuple[str, ...]) -> str:
    """The heading id of a command's entry: ``jepaworld-memory-add-goal``."""
    return "-".join(("jepaworld", *path))


def _cell(text: Any) -> str:
    """Text for one Markdown table cell: escaped, one line, pipes protected."""
    text = html.escape(" ".join(str(text).split()), quote=False)
    return text.replace("|", "\\|")


def _default(param: Any) -> str:
    if not is_argument(param) and param.is_flag and param.secondary_opts:
        flag = param.opts[0] if param.default else param.secondary_opts[0]
        return f"`{flag}`"
    default = param.default
    if default is None or callable(default) or default == () or param.required:
        return ""
    if isinstance(default, (list, tuple)):
        default = " ".join(map(str, default))
    return f"`{default}`"


def _type(param: Any) -> str:
    annotation = param.type_descriptor.annotation
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return r" \| ".join(f"`{m.value}`" for m in annotation)
    if not is_argument(param) and param.is_flag:
        return "flag"
    inner = getattr(annotation, "__args__", None)
    base = inner[0] if inner else annotation
    name = _TYPE_NAMES.get(base, getattr(base, "__name__", str(base)).upper())
    if param.min is not None or param.max is not None:
        name += f" [{'' if param.min is None else param.min}, {'' if param.max is None else param.max}]"
    return name + (" (repeatable)" if param.multiple else "")


def _usage(path: tuple[str, ...], cmd: Any) -> str:
    pieces = []
    if any(not is_argument(p) and not p.hidden for p in cmd.params):
        pieces.append("[OPTIONS]")
    for p in cmd.params:
        if is_argument(p):
            name = (p.metavar or p.name).upper()
            pieces.append(name if p.required else f"[{name}]")
    if subcommands(cmd):
        pieces.append("COMMAND [ARGS]...")
    return " ".join(["jepaworld", *path, *pieces])


def command_entry(path: tuple[str, ...], cmd: Any) -> str:
    """The Markdown entry of one command: heading (with a stable id), usage, help, parameters."""
    level = "##" if len(path) <= 1 else "###"
    title = " ".join(["jepaworld", *path])
    lines = [f"{level} `{title}` {{#{anchor(path)}}}", "", "```text", _usage(path, cmd), "```", ""]
    help_text = inspect.cleandoc(cmd.help or "").replace("\b\n", "")
    if help_text:
        lines += [help_text, ""]
    subs = subcommands(cmd)
    if subs:
        links = ", ".join(f"[`{n}`](#{anchor((*path, n))})" for n in subs)
        lines += [f"Commands: {links}.", ""]
    params = [p for p in cmd.params if not getattr(p, "hidden", False)]
    if params:
        lines += ["| argument / option | type | default | what |", "|---|---|---|---|"]
        for p in params:
            if is_argument(p):
                name = f"`{(p.metavar or p.name).upper()}`" + ("" if p.required else " (optional)")
            else:
                name = ", ".join(f"`{o}`" for o in (*p.opts, *p.secondary_opts))
            what = getattr(p, "help", None) or ""
            lines.append(f"| {name} | {_type(p)} | {_default(p)} | {_cell(what)} |")
        lines.append("")
    return "\n".join(lines)


def cli_markdown() -> str:
    """The whole CLI reference page."""
    root = cli_root()
    entries = list(walk_commands(root))
    head = [
        "# Command line",
        "",
        "Generated from the `jepaworld` command itself when the site is built: every command, its",
        "arguments and options, as `jepaworld COMMAND --help` prints them. Settings that live in the",
        "config are changed with `--set section.key=value` (see [config keys](config.md)).",
        "",
        "A problem you can fix (a bad option, a missing file) prints one `error:` line and exits 2;",
        "anything else is a bug: one `internal error:` line and exit 1, with the traceback under",
        "`jepaworld -v ...`. An interrupted `train` exits 130 (Ctrl-C) or 143 (SIGTERM) after saving",
        "its last completed step.",
        "",
    ]
    return "\n".join(head) + "\n" + "\n".join(command_entry(p, c) for p, c in entries)


# -- config keys ------------------------------------------------------------------------------------
class _Recorder:
    """Stands in for ``checks._Checker``: records each range rule instead of enforcing it."""

    rules: dict[str, list[str]] = {}

    def __init__(self, section: str, obj: Any) -> None:
        self.section = section

    def _add(self, key: str, rule: str) -> None:
        self.rules.setdefault(f"{self.section}.{key}", []).append(rule)

    def at_least(self, low: float, *keys: str) -> None:
        for key in keys:
            self._add(key, f"≥ {low}")

    def above(self, low: float, *keys: str) -> None:
        for key in keys:
            self._add(key, f"> {low}")

    def in_range(self, key: str, low: float, high: float, high_open: bool = True) -> None:
        self._add(key, f"in [{low}, {high}{')' if high_open else ']'}")

    def one_of(self, key: str, choices: tuple[str, ...]) -> None:
        self._add(key, "one of " + ", ".join(f"`{c}`" for c in choices))

    def non_empty(self, *keys: str) -> None:
        for key in keys:
            self._add(key, "non-empty")


def config_rules() -> dict[str, list[str]]:
    """``section.key`` -> its range rules, recorded by running each section's checks."""
    from jepaworld.config import checks, schema

    _Recorder.rules = {}
    real = checks._Checker
    checks._Checker = _Recorder  # type: ignore[misc]
    try:
        for cls, check in checks._SECTIONS.items():
            try:
                check(cls())
            except Exception:  # noqa: BLE001 - inline cross-field rules may fail on the recorder
                pass
    finally:
        checks._Checker = real  # type: ignore[misc]
    del schema
    return dict(_Recorder.rules)


def _field_comments(cls: type) -> dict[str, str]:
    """The comment of each field in the class's source: the lines right above it and the one after it."""
    src = inspect.getsource(cls)
    lines = src.splitlines()
    out: dict[str, str] = {}
    for node in ast.parse(src).body[0].body:  # type: ignore[attr-defined]
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            i = node.lineno - 1
            above = []
            j = i - 1
            while j >= 0 and lines[j].strip().startswith("#"):
                above.insert(0, lines[j].strip().lstrip("#").strip())
                j -= 1
            # a one-line comment right above a group of fields names the group, not this field
            if len(above) == 1 and j >= 0 and not lines[j].strip():
                above = []
            trailing = lines[i].split("  # ", 1)[1].strip() if "  # " in lines[i] else ""
            out[node.target.id] = " ".join([*above, trailing]).strip()
    return out


def config_markdown() -> str:
    """The config-keys page: one table per section."""
    from jepaworld.config import schema

    rules = config_rules()
    lines = [
        "# Config keys",
        "",
        "Generated from `jepaworld/config/schema.py` (types, defaults, comments) and",
        "`jepaworld/config/checks.py` (ranges) when the site is built. Presets (`--config cpu`,",
        "`pusht-cpu`, `paper`, ...; planner presets with `--preset fast`, `published`) override some",
        "defaults; any key can be set with `--set section.key=value`, and a value out of range is",
        "refused with the rule it broke. The resolved config is saved inside every run",
        "(`RUN/config.yaml`, and in each checkpoint).",
        "",
        "Rules between keys: `plan.elites` must be in [1, `plan.samples`]; with `model.pos_embedding=learned`,",
        "`model.max_len` ≥ `data.history + data.pred - 1`; `train.rollout_steps` ≤ `data.pred`; a ViT needs",
        "`model.enc_width` divisible by `model.enc_heads` and `model.image_size` by `model.patch_size`.",
        "",
    ]
    sections = [(f.name, f.type) for f in dataclasses.fields(schema.Config)]
    for section, _ in sections:
        cls = type(getattr(schema.Config(), section))
        doc = inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0].replace("\n", " ")
        comments = _field_comments(cls)
        lines += [f"## `{section}`", "", doc, "", "| key | type | default | range | what |", "|---|---|---|---|---|"]
        instance = cls()
        for f in dataclasses.fields(cls):
            key = f"{section}.{f.name}"
            default = getattr(instance, f.name)
            rule = "; ".join(rules.get(key, []))
            lines.append(
                f"| `{key}` | `{_cell(f.type)}` | `{_cell(default)}` | {rule} | {_cell(comments.get(f.name, ''))} |"
            )
        lines.append("")
    return "\n".join(lines)


# -- the MkDocs hook --------------------------------------------------------------------------------
def on_files(files: Any, config: Any) -> Any:
    from mkdocs.structure.files import File

    for path, render in ((CLI_PAGE, cli_markdown), (CONFIG_PAGE, config_markdown)):
        existing = files.get_file_from_path(path)
        if existing is not None:
            files.remove(existing)
        files.append(File.generated(config, path, content=render()))
    return files


MEMORY_SCHEMA_MARK = "<!-- memory-schema -->"


def memory_schema() -> str:
    """The memory file's SQL schema, read from ``jepaworld/memory/store.py`` without importing it."""
    source = Path(__file__).resolve().parents[2] / "jepaworld" / "memory" / "store.py"
    for node in ast.parse(source.read_text()).body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "_SCHEMA" for t in node.targets):
            return ast.literal_eval(node.value).strip()
    raise LookupError(f"no _SCHEMA in {source}")


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if MEMORY_SCHEMA_MARK in markdown:
        markdown = markdown.replace(MEMORY_SCHEMA_MARK, "```sql\n" + memory_schema() + "\n```")
    return markdown
