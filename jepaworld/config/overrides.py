"""``{section: {key: value}}`` mappings and ``--set section.key=value`` overrides onto a typed config."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import yaml

from jepaworld.config.schema import Config
from jepaworld.errors import ConfigError


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
