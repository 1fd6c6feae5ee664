"""Load presets, apply ``--set section.key=value`` overrides, save the resolved config."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import tempfile
import typing
from pathlib import Path
from typing import Any

import yaml

from jepaworld.config.schema import Config
from jepaworld.errors import JepaworldError


class ConfigError(JepaworldError):
    """A config file, override or value that cannot be used; the message says how to fix it."""


def _field_types(obj: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(obj))


def _coerce(value: Any, hint: Any, where: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is list:
        (inner,) = typing.get_args(hint)
        if isinstance(value, str):
            value = [v for v in value.strip("[]").split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        return [_coerce(v, inner, where) for v in value]
    try:
        if hint is bool:
            if isinstance(value, str):
                low = value.strip().lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if hint is float:
            return float(value)
        if hint is str:
            return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: expected {getattr(hint, '__name__', hint)}, got {value!r}") from None
    return value


def update(cfg: Config, values: dict[str, Any], source: str = "config") -> Config:
    """Apply a nested ``{section: {key: value}}`` mapping in place, checking names and types."""
    sections = {f.name for f in dataclasses.fields(cfg)}
    for section, entries in values.items():
        if section not in sections:
            raise ConfigError(f"{source}: unknown section {section!r}; expected one of {sorted(sections)}")
        if entries is None:
            continue
        if not isinstance(entries, dict):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of key: value")
        sub = getattr(cfg, section)
        hints = _field_types(sub)
        for key, value in entries.items():
            if key not in hints:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key}; valid keys: {', '.join(sorted(hints))}"
                )
            setattr(sub, key, _coerce(value, hints[key], f"{source}: {section}.{key}"))
    return cfg


def parse_overrides(items: list[str] | None) -> dict[str, dict[str, Any]]:
    """Turn ``["train.lr=3e-4", "data.history=3"]`` into ``{"train": {"lr": "3e-4"}, ...}``."""
    out: dict[str, dict[str, Any]] = {}
    for item in items or []:
        if "=" not in item or "." not in item.split("=", 1)[0]:
            raise ConfigError(f"--set {item!r}: expected section.key=value, e.g. --set train.lr=3e-4")
        key, value = item.split("=", 1)
        section, name = key.split(".", 1)
        out.setdefault(section.strip(), {})[name.strip()] = yaml.safe_load(value) if value else value
    return out


def preset_path(name_or_path: str) -> Path:
    """A preset name (``cpu``, ``paper``) or a path to a YAML file."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") or p.exists():
        if not p.exists():
            raise ConfigError(f"config file {p} does not exist; presets: {', '.join(list_presets())}")
        return p
    candidate = presets_dir() / f"{name_or_path}.yaml"
    if not candidate.exists():
        raise ConfigError(f"unknown preset {name_or_path!r}; available: {', '.join(list_presets())}")
    return candidate


def presets_dir() -> Path:
    return Path(__file__).resolve().parent / "presets"


def list_presets() -> list[str]:
    return sorted(p.stem for p in presets_dir().glob("*.yaml"))


def read_preset(preset: str) -> dict[str, Any]:
    """The ``{section: {key: value}}`` mapping a preset (name or YAML path) sets."""
    path = preset_path(preset)
    try:
        values = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML ({e})") from None
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of section: {{key: value}}")
    if isinstance(values.get("plan"), str):  # `plan: NAME` names a planner preset (presets/plan/NAME.yaml)
        from jepaworld.config.planners import planner_preset

        values["plan"] = planner_preset(values["plan"])
    return values


def load_config(preset: str | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then a preset (name or YAML path), then ``--set`` overrides; range-checked."""
    from jepaworld.config.checks import validate

    cfg = Config()
    if preset:
        update(cfg, read_preset(preset), source=str(preset_path(preset)))
    update(cfg, parse_overrides(overrides), source="--set")
    validate(cfg)
    return cfg


def to_dict(cfg: Config) -> dict[str, Any]:
    return dataclasses.asdict(cfg)


def from_dict(values: dict[str, Any], source: str = "saved config") -> Config:
    """A config from a saved mapping (``to_dict``'s output), type- and range-checked."""
    from jepaworld.config.checks import validate

    cfg = update(Config(), values, source=source)
    validate(cfg)
    return cfg


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write text to ``path`` via a temp file in the same folder and an atomic rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.chmod(tmp, 0o644)  # mkstemp makes files private; results are meant to be shared
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def strict_json(value: Any) -> Any:
    """``value`` with every non-finite float (NaN, +-inf) as None and numpy scalars and arrays as Python
    numbers and lists: what ``json_text`` writes."""
    if isinstance(value, dict):
        return {k: strict_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [strict_json(v) for v in value]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy arrays and scalars
        return strict_json(value.tolist())
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def json_text(value: Any, indent: int | None = None) -> str:
    """Standard JSON (RFC 8259) that ``jq`` and ``JSON.parse`` read: a missing figure (NaN, +-inf) is
    ``null``, never a bare ``NaN`` or ``Infinity`` token. Every JSON file jepaworld writes goes through it."""
    return json.dumps(strict_json(value), indent=indent, allow_nan=False)


def write_json(path: str | os.PathLike, value: Any, indent: int | None = 2) -> None:
    """``json_text(value)`` to ``path``, atomically."""
    atomic_write_text(path, json_text(value, indent))


def save_config(cfg: Config, path: str | os.PathLike) -> None:
    """Save as YAML (``.yaml``) or JSON (anything else), atomically."""
    d = to_dict(cfg)
    text = yaml.safe_dump(d, sort_keys=False) if str(path).endswith((".yaml", ".yml")) else json_text(d, indent=2)
    atomic_write_text(path, text)
