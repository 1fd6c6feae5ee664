"""Named planner settings: ``presets/plan/NAME.yaml`` (``configs/plan/`` in the repository).

The YAML files are the one source of truth: ``--preset NAME`` and a run config's ``plan: NAME``
both read them. ``published`` reproduces the paper's planner exactly.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from jepaworld.config.io import ConfigError, presets_dir, update
from jepaworld.config.schema import Config, PlanConfig


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
