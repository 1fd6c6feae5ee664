"""Presets: named settings as YAML files in the ``presets/`` folder beside this module (``configs/``).

Training presets are ``presets/NAME.yaml`` (``{section: {key: value}}``); planner presets are
``presets/plan/NAME.yaml`` (plan settings). The YAML files are the one source of truth: ``--preset
NAME`` and a run config's ``plan: NAME`` both read them. ``published`` reproduces the paper's planner
exactly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from jepaworld.config.overrides import update
from jepaworld.config.schema import Config, PlanConfig
from jepaworld.errors import ConfigError


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
        values["plan"] = planner_preset(values["plan"])
    return values


def planner_presets_dir() -> Path:
    return presets_dir() / "plan"


def list_planner_presets() -> list[str]:
    return sorted(p.stem for p in planner_presets_dir().glob("*.yaml"))


def planner_preset(name: str) -> dict[str, Any]:
    """The settings of planner preset ``name`` as a ``{key: value}`` mapping."""
    path = planner_presets_dir() / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown planner preset {name!r}; available: {', '.join(list_planner_presets())}")
    values = yaml.safe_load(path.read_text()) or {}
    if not isinstance(values, dict):
        raise ConfigError(f"{path}: expected a mapping of plan settings")
    return values


def apply_planner_preset(cfg: PlanConfig, name: str | None) -> PlanConfig:
    """A copy of ``cfg`` with preset ``name``'s settings applied (``cfg`` itself when no name)."""
    if not name:
        return cfg
    holder = Config(plan=copy.deepcopy(cfg))
    update(holder, {"plan": planner_preset(name)}, source=f"planner preset {name!r}")
    return holder.plan
