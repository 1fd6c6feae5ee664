import pytest
import torch

from jepaworld.plan import NOISE_MODES, sample_noise


def lag1_autocorr(noise: torch.Tensor, frameskip: int, action_dim: int) -> float:
    """Mean lag-1 autocorrelation along the raw-step axis of noise (B, S, H, fs*A)."""
    B, S, H, _ = noise.shape
    x = noise.reshape(B * S, H * frameskip, action_dim)
    return float((x[:, 1:] * x[:, :-1]).mean() / x.var())


@pytest.mark.parametrize("mode", NOISE_MODES)
@pytest.mark.parametrize("horizon,frameskip", [(5, 5), (1, 1), (2, 3), (4, 2)])
def test_shape_and_unit_variance(mode, horizon, frameskip):
    g = torch.Generator().manual_seed(0)
    noise = sample_noise(mode, 3, 4000, horizon, frameskip, 2, generator=g)
    assert noise.shape == (3, 4000, horizon, frameskip * 2)
    assert noise.dtype == torch.float32
    per_element_var = noise.var(dim=(0, 1))  # (H, D): every element has unit variance
    assert torch.allclose(per_element_var, torch.ones_like(per_element_var), atol=0.08)
    assert noise.mean().abs() < 0.05


def test_block_noise_is_constant_within_blocks():
    noise = sample_noise("block", 2, 50, 4, 5, 3, generator=torch.Generator().manual_seed(1))
    steps = noise.reshape(2, 50, 4, 5, 3)  # block flattened step-major: (fs, A)
    assert torch.equal(steps, steps[:, :, :, :1].expand_as(steps))
    assert not torch.equal(steps[:, :, 0], steps[:, :, 1])  # but blocks differ


def test_iid_noise_varies_within_blocks():
    noise = sample_noise("iid", 2, 50, 4, 5, 3, generator=torch.Generator().manual_seed(1))
    steps = noise.reshape(2, 50, 4, 5, 3)
    assert not torch.equal(steps[:, :, :, 0], steps[:, :, :, 1])


def test_colored_noise_is_temporally_correlated():
    g = torch.Generator().manual_seed(2)
    iid = lag1_autocorr(sample_noise("iid", 2, 2000, 5, 5, 2, generator=g), 5, 2)
    colored = lag1_autocorr(sample_noise("colored", 2, 2000, 5, 5, 2, beta=2.0, generator=g), 5, 2)
    white = lag1_autocorr(sample_noise("colored", 2, 2000, 5, 5, 2, beta=0.0, generator=g), 5, 2)
    assert abs(iid) < 0.05 and abs(white) < 0.05
    assert colored > 0.5


def test_generator_makes_noise_reproducible():
    a = sample_noise("colored", 2, 8, 3, 5, 2, generator=torch.Generator().manual_seed(3))
    b = sample_noise("colored", 2, 8, 3, 5, 2, generator=torch.Generator().manual_seed(3))
    assert torch.equal(a, b)


def test_unknown_mode_is_rejected():
    with pytest.raises(ValueError, match="unknown noise mode"):
        sample_noise("pink", 1, 2, 3, 5, 2)
