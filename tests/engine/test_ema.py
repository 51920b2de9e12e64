"""Momentum targets: the update rule, the cosine schedule, frozen copies."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from ssl_engine.ema import cosine_momentum, ema_update_, frozen_copy


def test_frozen_copy_is_equal_independent_and_takes_no_gradient() -> None:
    online = nn.Linear(3, 2)
    target = frozen_copy(online)
    assert all(not p.requires_grad for p in target.parameters())
    torch.testing.assert_close(target.weight, online.weight)
    with torch.no_grad():
        online.weight.add_(1.0)
    assert not torch.equal(target.weight, online.weight)


def test_ema_update_moves_target_towards_online_by_one_minus_momentum() -> None:
    online, target = nn.Linear(2, 2), nn.Linear(2, 2)
    with torch.no_grad():
        online.weight.fill_(1.0)
        target.weight.fill_(0.0)
    ema_update_(target, online, momentum=0.9)
    torch.testing.assert_close(target.weight, torch.full((2, 2), 0.1))
    ema_update_(target, online, momentum=0.9)
    torch.testing.assert_close(target.weight, torch.full((2, 2), 0.19))


def test_ema_update_leaves_buffers_and_online_alone() -> None:
    online, target = nn.BatchNorm1d(2), nn.BatchNorm1d(2)
    assert online.running_mean is not None and target.running_mean is not None
    with torch.no_grad():
        online.running_mean.fill_(5.0)
        online.weight.fill_(2.0)
    ema_update_(target, online, momentum=0.5)
    assert target.running_mean.tolist() == [0.0, 0.0]
    assert online.weight.tolist() == [2.0, 2.0]
    assert target.weight.tolist() == [1.5, 1.5]


def test_ema_update_with_momentum_one_keeps_target_and_zero_copies_online() -> None:
    online, target = nn.Linear(2, 2), nn.Linear(2, 2)
    before = target.weight.clone()
    ema_update_(target, online, momentum=1.0)
    torch.testing.assert_close(target.weight, before)
    ema_update_(target, online, momentum=0.0)
    torch.testing.assert_close(target.weight, online.weight)


def test_ema_update_rejects_mismatched_modules_and_bad_momentum() -> None:
    with pytest.raises(ValueError, match="different parameters"):
        ema_update_(nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2)), 0.9)
    with pytest.raises(ValueError, match="momentum"):
        ema_update_(nn.Linear(2, 2), nn.Linear(2, 2), 1.5)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [
        (0.0, 0.996),
        (0.5, 0.998),
        (1.0, 1.0),
        (0.25, 1 - 0.004 * (math.cos(math.pi / 4) + 1) / 2),
        (-0.5, 0.996),  # clamped
        (2.0, 1.0),  # clamped
    ],
)
def test_cosine_momentum_follows_byol_schedule(progress: float, expected: float) -> None:
    assert cosine_momentum(0.996, progress) == pytest.approx(expected)


def test_cosine_momentum_is_monotonic() -> None:
    values = [cosine_momentum(0.99, i / 20) for i in range(21)]
    assert values == sorted(values)


def test_cosine_momentum_rejects_base_above_final() -> None:
    with pytest.raises(ValueError, match="base"):
        cosine_momentum(0.999, 0.5, final=0.99)
