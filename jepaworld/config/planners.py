"""Named planner settings; they live in :mod:`jepaworld.config.yaml_presets` (re-exported here)."""

from jepaworld.config.yaml_presets import (
    apply_planner_preset,
    list_planner_presets,
    planner_preset,
    planner_presets_dir,
)

__all__ = ["apply_planner_preset", "list_planner_presets", "planner_preset", "planner_presets_dir"]
