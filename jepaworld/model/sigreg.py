"""SIGReg: push embeddings toward an isotropic Gaussian (LeWM).

For M random unit directions u_m, project the batch x_n = <z_n, u_m> and compare its empirical
characteristic function phi_N(t) = mean_n exp(i t x_n) with the standard normal's exp(-t^2 / 2)
through the Epps-Pulley statistic

    EP_m = N * integral w(t) |phi_N(t) - exp(-t^2 / 2)|^2 dt,    w(t) = exp(-t^2 / 2),

integrated by the trapezoid rule on `knots` points of [0, t_max] and doubled (the integrand is
even). SIGReg is the mean of EP over directions and time steps. A Gaussian batch scores about 1
whatever N; a collapsed one scores O(N).

Under torch.distributed the cos/sin sums are all-reduced, so the statistic is the one of the
global batch (N = global batch size) and every rank uses the same directions (drawn on rank 0 and
broadcast). Gradients follow data-parallel convention: each rank's backward yields the gradient of
the global statistic summed over ranks, which becomes the exact gradient once DDP (or any
gradient all-reduce) averages parameter gradients over ranks.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import Tensor, nn


def _distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


class _AllReduceSum(torch.autograd.Function):
    """Sum over ranks; backward sums the incoming gradients over ranks too."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001
        x = x.clone()
        dist.all_reduce(x)
        return x

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001
        grad = grad.clone()
        dist.all_reduce(grad)
        return grad


class SIGReg(nn.Module):
    """z: (N, D) or (T, N, D) -> scalar. Directions are drawn afresh on every call."""

    t: Tensor  # buffers (register_buffer): (knots,) each
    phi: Tensor
    weights: Tensor

    def __init__(self, num_directions: int = 1024, knots: int = 17, t_max: float = 3.0):
        super().__init__()
        if knots < 2:
            raise ValueError(f"SIGReg needs at least 2 knots, got {knots}")
        self.num_directions = num_directions
        t = torch.linspace(0.0, t_max, knots)
        dt = t_max / (knots - 1)
        trapezoid = torch.full((knots,), 2 * dt)  # doubled for the symmetric half [-t_max, 0]
        trapezoid[[0, -1]] = dt
        phi = torch.exp(-t.square() / 2)  # standard normal characteristic function, also the weight
        self.register_buffer("t", t, persistent=False)
        self.register_buffer("phi", phi, persistent=False)
        self.register_buffer("weights", trapezoid * phi, persistent=False)

    def draw_directions(self, dim: int, device: torch.device | str) -> Tensor:
        """Random unit directions (dim, M), identical on every rank under torch.distributed."""
        u = torch.randn(dim, self.num_directions, device=device)
        u = u / u.norm(dim=0, keepdim=True)
        if _distributed():
            dist.broadcast(u, src=0)
        return u

    def forward(self, z: Tensor, directions: Tensor | None = None) -> Tensor:
        """z: (N, D) or (T, N, D); directions: optional fixed (D, M) unit columns."""
        if z.dim() == 2:
            z = z[None]
        if z.dim() != 3:
            raise ValueError(f"SIGReg expects z of shape (N, D) or (T, N, D), got {tuple(z.shape)}")
        with torch.autocast(device_type=z.device.type, enabled=False):
            z = z.float()
            u = self.draw_directions(z.shape[-1], z.device) if directions is None else directions.float()
            xt = (z @ u).unsqueeze(-1) * self.t  # (T, N, M, knots)
            sums = torch.stack([xt.cos().sum(1), xt.sin().sum(1)])  # (2, T, M, knots)
            n = torch.tensor(float(z.shape[1]), device=z.device)
            if _distributed():
                sums = _AllReduceSum.apply(sums)
                dist.all_reduce(n)
            cos_mean, sin_mean = sums / n
            err = (cos_mean - self.phi).square() + sin_mean.square()  # (T, M, knots)
            return (err @ self.weights).mean() * n
