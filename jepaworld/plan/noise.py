"""Standard-normal exploration noise over action blocks, in three temporal structures.

Noise has shape (B, S, H, D) with D = frameskip * action_dim, each block flattened step-major
(block[k * A + a] is raw step k, action dim a). Every element has zero mean and unit variance;
the modes differ only in how the H * frameskip raw steps are correlated:

- ``"iid"``: independent per raw env step (the published CEM).
- ``"block"``: one draw per action block, repeated over its frameskip steps (what lifted
  Two-Room success by 30-44 points over iid noise in an early measurement).
- ``"colored"``: a stationary Gaussian process over the H * frameskip raw steps with power
  spectrum 1/f^beta (iCEM, Pinneri et al. 2020); beta = 0 is white, 2 is Brownian-like.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeAlias

import torch
from torch import Tensor

from jepaworld.errors import JepaworldError

NOISE_MODES = ("iid", "block", "colored")


@dataclass(frozen=True)
class RowGenerators:
    """One noise stream per group of consecutive batch rows: ``parts = ((generator, rows), ...)``.

    Pass it as a planner's ``generator`` to plan independent problems in one call: each group draws
    its noise from its own generator exactly as a call on its rows alone would (``LatentMPC``'s
    ``act_together`` plans several closed loops at once this way, each as if planned alone).
    """

    parts: tuple[tuple[torch.Generator, int], ...]

    @property
    def device(self) -> torch.device:
        return self.parts[0][0].device

    @property
    def rows(self) -> int:
        return sum(n for _, n in self.parts)


# What a planner draws its noise from: one generator, or one per group of rows (``RowGenerators``).
NoiseSource: TypeAlias = torch.Generator | RowGenerators


def sample_noise(
    mode: str,
    batch: int,
    samples: int,
    horizon: int,
    frameskip: int,
    action_dim: int,
    *,
    beta: float = 2.0,
    generator: NoiseSource | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Draw noise of shape (batch, samples, horizon, frameskip * action_dim).

    ``beta`` is used by ``"colored"`` only. Draws happen on the generator's device and are then
    moved to ``device`` (default: the generator's device, else the CPU). A ``RowGenerators``
    draws each group of rows from its own generator.
    """
    if mode not in NOISE_MODES:
        raise JepaworldError(f"unknown noise mode {mode!r}; expected one of {NOISE_MODES}")
    if isinstance(generator, RowGenerators):
        if generator.rows != batch:
            raise JepaworldError(f"RowGenerators covers {generator.rows} rows but the batch has {batch}")
        device = device if device is not None else generator.device
        return torch.cat([
            sample_noise(mode, n, samples, horizon, frameskip, action_dim, beta=beta, generator=g, device=device,
                         dtype=dtype)
            for g, n in generator.parts
        ])  # fmt: skip
    draw_device = generator.device if generator is not None else torch.device(device or "cpu")
    device = torch.device(device) if device is not None else draw_device
    B, S, H, fs, A = batch, samples, horizon, frameskip, action_dim

    def randn(*shape: int) -> Tensor:
        return torch.randn(*shape, generator=generator, device=draw_device, dtype=dtype)

    if mode == "iid":
        noise = randn(B, S, H, fs, A)
    elif mode == "block":
        noise = randn(B, S, H, 1, A).expand(B, S, H, fs, A)
    else:
        noise = colored_noise(randn, B, S, H * fs, A, beta).reshape(B, S, H, fs, A)
    return noise.reshape(B, S, H, fs * A).to(device)


def colored_noise(
    randn: Callable[..., Tensor], batch: int, samples: int, steps: int, action_dim: int, beta: float
) -> Tensor:
    """Gaussian noise (B, S, T, A) with power spectrum 1/f^beta along T and unit variance.

    As in iCEM's ``powerlaw_psd_gaussian``: random Fourier coefficients scaled by f^(-beta/2)
    (frequencies below 1/T clamped to 1/T), transformed back with an inverse real FFT. The
    result is divided by its exact theoretical standard deviation, so every element has unit
    variance (``randn(*shape)`` draws the standard normals).
    """
    T = steps
    freqs = torch.fft.rfftfreq(T, dtype=torch.float64).clamp_min(1.0 / T)
    scale = freqs ** (-beta / 2)  # (F,)
    # Re, Im ~ N(0, s^2); the DC bin (and Nyquist, T even) is real with variance 2 s^2
    real_only = [0] + ([T // 2] if T % 2 == 0 and T > 1 else [])
    z = randn(2, batch, samples, action_dim, scale.numel())
    re, im = z[0] * scale.to(z.dtype), z[1] * scale.to(z.dtype)
    re[..., real_only] = re[..., real_only] * math.sqrt(2.0)
    im[..., real_only] = 0.0
    x = torch.fft.irfft(torch.complex(re, im), n=T, dim=-1)  # (B, S, A, T)
    # Var x_t = (sum_k c_k s_k^2) / T^2 with c = 2 for real-only bins and 4 for the others
    c = torch.full_like(scale, 4.0)
    c[real_only] = 2.0
    std = math.sqrt(float((c * scale**2).sum()) / T**2)
    return (x / std).transpose(-1, -2)  # (B, S, T, A)
