"""SIGReg: Gaussian vs collapsed samples, agreement with direct integration, distributed equality."""

from __future__ import annotations

import math
import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from jepaworld.model import SIGReg


def unit_directions(dim: int, m: int, seed: int = 0) -> torch.Tensor:
    u = torch.randn(dim, m, generator=torch.Generator().manual_seed(seed))
    return u / u.norm(dim=0, keepdim=True)


def epps_pulley_direct(z: torch.Tensor, u: torch.Tensor, knots: int = 1201) -> torch.Tensor:
    """N * integral_{-3}^{3} e^{-t^2/2} |phi_N(t) - e^{-t^2/2}|^2 dt, fine trapezoid, complex128."""
    x = (z.double() @ u.double()).T  # (M, N)
    t = torch.linspace(-3, 3, knots, dtype=torch.float64)
    phi_n = torch.exp(1j * t[:, None, None] * x).mean(-1)  # (knots, M)
    gauss = torch.exp(-t.square() / 2)[:, None]
    integrand = gauss * (phi_n - gauss).abs().square()
    return (torch.trapezoid(integrand, t, dim=0) * z.shape[0]).mean()


def test_gaussian_scores_about_one_and_is_stable():
    torch.manual_seed(0)
    sigreg = SIGReg(num_directions=256)
    # E[N |phi_N - phi|^2] = 1 - e^{-t^2}, so the expected statistic is
    # integral e^{-t^2/2} (1 - e^{-t^2}) dt = sqrt(2 pi) - sqrt(2 pi / 3) ~ 1.06, whatever N.
    expected = math.sqrt(2 * math.pi) - math.sqrt(2 * math.pi / 3)
    for n in (512, 4096):
        values = [sigreg(torch.randn(n, 64)).item() for _ in range(3)]
        assert all(abs(v - expected) < 0.4 for v in values), values


def test_collapsed_and_anisotropic_score_high():
    torch.manual_seed(0)
    sigreg = SIGReg(num_directions=256)
    gaussian = sigreg(torch.randn(2048, 8)).item()
    assert sigreg(torch.zeros(2048, 8)).item() > 100 * gaussian
    assert sigreg(torch.randn(2048, 8) * 0.1 + 3.0).item() > 100 * gaussian
    stretched = torch.randn(2048, 8)
    stretched[:, 0] *= 5
    assert sigreg(stretched).item() > 10 * gaussian


def test_matches_direct_integration():
    torch.manual_seed(0)
    z = torch.randn(300, 6) * torch.tensor([1.0, 0.5, 2.0, 1.0, 1.0, 0.8]) + 0.3
    u = unit_directions(6, 32)
    direct = epps_pulley_direct(z, u)
    fine = SIGReg(knots=601)(z, directions=u)  # same grid as the direct integral
    torch.testing.assert_close(fine.double(), direct, rtol=1e-4, atol=1e-4)
    coarse = SIGReg(knots=17)(z, directions=u)  # the published 17-knot rule stays close
    torch.testing.assert_close(coarse.double(), direct, rtol=2e-2, atol=1e-3)


def test_time_steps_are_averaged():
    z = torch.randn(3, 200, 6)
    u = unit_directions(6, 16)
    sigreg = SIGReg()
    per_step = torch.stack([sigreg(z[i], directions=u) for i in range(3)])
    torch.testing.assert_close(sigreg(z, directions=u), per_step.mean())


def test_directions_are_fresh_unit_vectors():
    sigreg = SIGReg(num_directions=64)
    u1, u2 = sigreg.draw_directions(8, "cpu"), sigreg.draw_directions(8, "cpu")
    assert u1.shape == (8, 64) and not torch.allclose(u1, u2)
    torch.testing.assert_close(u1.norm(dim=0), torch.ones(64))


# ------------------------------------------------------------------------------- distributed
WORLD, N_PER_RANK, DIM = 2, 16, 6


def _worker(rank: int, init_file: str, x: torch.Tensor, weight: torch.Tensor, u: torch.Tensor, out: str):
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        torch.manual_seed(100 + rank)  # different local RNGs: directions must still agree
        sigreg = SIGReg(num_directions=32)
        drawn = sigreg.draw_directions(DIM, "cpu")
        lin = torch.nn.Linear(DIM, DIM, bias=False)
        lin.weight.data.copy_(weight)
        x_local = x[:, rank * N_PER_RANK : (rank + 1) * N_PER_RANK]  # (T, N_local, DIM)
        loss = sigreg(lin(x_local), directions=u)
        loss.backward()
        for p in lin.parameters():  # what DDP does to gradients
            dist.all_reduce(p.grad)
            p.grad /= WORLD
        random_value = sigreg(lin(x_local)).detach()  # fresh directions, shared by all ranks
        torch.save(
            {"loss": loss.detach(), "grad": lin.weight.grad, "drawn": drawn, "random": random_value},
            f"{out}/rank{rank}.pt",
        )
    finally:
        dist.destroy_process_group()


def test_distributed_equals_single_process():
    torch.manual_seed(0)
    x = torch.randn(2, WORLD * N_PER_RANK, DIM)  # (T, N_global, DIM)
    weight = torch.randn(DIM, DIM) * 0.5
    u = unit_directions(DIM, 32)
    lin = torch.nn.Linear(DIM, DIM, bias=False)
    lin.weight.data.copy_(weight)
    loss = SIGReg()(lin(x), directions=u)
    loss.backward()
    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(os.path.join(tmp, "init"), x, weight, u, tmp), nprocs=WORLD, join=True)
        ranks = [torch.load(f"{tmp}/rank{r}.pt") for r in range(WORLD)]
    for r in ranks:
        torch.testing.assert_close(r["loss"], loss.detach(), rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(r["grad"], lin.weight.grad, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ranks[0]["drawn"], ranks[1]["drawn"], rtol=0, atol=0)
    torch.testing.assert_close(ranks[0]["random"], ranks[1]["random"], rtol=0, atol=0)
