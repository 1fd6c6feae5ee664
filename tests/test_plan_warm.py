import pytest
import torch

from jepaworld.plan import shift_plan


def test_shift_drops_executed_blocks_and_pads_zeros():
    plan = torch.arange(2 * 4 * 3, dtype=torch.float32).reshape(2, 4, 3) + 1
    shifted = shift_plan(plan, 1)
    assert shifted.shape == plan.shape
    assert torch.equal(shifted[:, :3], plan[:, 1:])
    assert torch.equal(shifted[:, 3], torch.zeros(2, 3))


def test_shift_by_zero_and_by_whole_horizon():
    plan = torch.randn(3, 5, 10)
    assert torch.equal(shift_plan(plan, 0), plan)
    assert torch.equal(shift_plan(plan, 5), torch.zeros_like(plan))
    assert torch.equal(shift_plan(plan, 9), torch.zeros_like(plan))


def test_shift_rejects_bad_input():
    with pytest.raises(ValueError):
        shift_plan(torch.zeros(2, 3, 4), -1)
    with pytest.raises(ValueError):
        shift_plan(torch.zeros(3, 4), 1)
