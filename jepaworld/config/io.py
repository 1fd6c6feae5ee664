"""Load a config (defaults, a preset, ``--set`` overrides), save it, and write strict JSON."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from typing import Any

import yaml

from jepaworld.atomic import atomic_write_text
from jepaworld.config.checks import validate
from jepaworld.config.overrides import parse_overrides, update
from jepaworld.config.schema import Config
from jepaworld.config.yaml_presets import list_presets, preset_path, presets_dir, read_preset  # noqa: F401  (re-exported)
from jepaworld.errors import ConfigError  # noqa: F401  (importers found it here)


def load_config(preset: str | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then a preset (name or YAML path), then ``--set`` overrides; range-checked."""
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
    cfg = update(Config(), values, source=source)
    validate(cfg)
    return cfg


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
