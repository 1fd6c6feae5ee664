"""Words and units for what the tools report: entity values by name, the surprise scale."""

from __future__ import annotations

from typing import Any

import numpy as np

Entities = dict[str, tuple[list[int], list[str]]]  # name -> (state columns, field names), as jepaworld.memory

UNITS = {
    "tworoom": "pixels of the 224 x 224 canvas (x right, y down; the wall is at x = 112, the door at y = 35..63)",
    "pusht": "pixels of the 512 x 512 space (x right, y down); angle in radians",
}


def entity_values(entities: Entities, state: np.ndarray) -> dict[str, dict[str, float]]:
    """A state vector (S,) -> {entity: {field: value}} (rounded to 0.01)."""
    state = np.asarray(state, np.float64).reshape(-1)
    return {name: {f: round(float(state[c]), 2) for c, f in zip(cols, fields, strict=True)}
            for name, (cols, fields) in entities.items()}  # fmt: skip


def surprise_facts(guard: Any) -> dict[str, Any]:
    """How to read a surprise value: the guard's calibrated threshold, when the run has one."""
    if guard is None:
        return {"surprise_threshold": None,
                "surprise_note": "surprise = squared latent error of the model's one-block prediction; no calibrated "
                                 "threshold (run `jepaworld distill RUN`)"}  # fmt: skip
    return {"surprise_threshold": float(guard.threshold),
            "surprise_note": f"surprise = squared latent error of the model's one-block prediction; above "
                             f"{guard.threshold:.4g} (the {guard.quantile:g} quantile of ordinary frames) is "
                             "surprising"}
