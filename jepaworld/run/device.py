"""Which torch device a command runs on."""

from __future__ import annotations

import torch

from jepaworld.errors import JepaworldError


def pick_device(name: str = "auto") -> torch.device:
    """``auto`` -> CUDA if available, else CPU; otherwise the named device (checked)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise JepaworldError(f"unknown device {name!r}; use auto, cpu, cuda or cuda:N") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise JepaworldError(f"device {name!r} requested but CUDA is not available here; use cpu")
    return device
