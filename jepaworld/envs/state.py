"""What an environment's state vector means: angles (wrapped, read as sin and cos)."""

from __future__ import annotations

import numpy as np


def wrap_angle(a: np.ndarray | float) -> np.ndarray | float:
    """Angle(s) in radians wrapped to [-pi, pi)."""
    return (a + np.pi) % (2 * np.pi) - np.pi
