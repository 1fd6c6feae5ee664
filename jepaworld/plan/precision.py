"""The rollout precision a planner asks for: ``PlanConfig.precision`` resolved for a device.

"auto" is bfloat16 where the device computes it natively (a CUDA GPU with bf16 support, an x86 CPU with
AVX512-BF16 or AMX) and float32 elsewhere, where bf16 is emulated and slower than fp32.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path

import torch

NATIVE_BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # x86 CPU flags of native bfloat16 dot products


@functools.cache
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags from Linux's /proc/cpuinfo; empty elsewhere (or when unreadable)."""
    if not sys.platform.startswith("linux"):
        return frozenset()
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.partition(":")[2].split())
    return frozenset()


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes bfloat16 matmuls natively."""
    if device.type == "cuda":
        return bool(torch.cuda.is_bf16_supported())
    return device.type == "cpu" and bool(cpu_flags() & NATIVE_BF16_FLAGS)


def resolve_precision(precision: str, device: torch.device) -> str:
    """"fp32" or "bf16" for ``device``: "auto" is "bf16" where :func:`native_bf16`, else "fp32"."""
    if precision == "auto":
        return "bf16" if native_bf16(device) else "fp32"
    if precision not in ("fp32", "bf16"):
        raise ValueError(f"plan.precision must be auto, fp32 or bf16, got {precision!r}")
    return precision
