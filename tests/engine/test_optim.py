"""LARS, parameter groups and the warm-up + cosine schedule."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
import torch
from torch import nn

from ssl_engine.optim import LARS, build_optimizer, build_scheduler, param_groups, warmup_cosine


def test_param_groups_exempt_biases_and_norms_and_skip_frozen_parameters() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Linear(4, 2))
    model[2].weight.requires_grad_(False)
    decayed, plain = param_groups(model, weight_decay=0.1)
    assert [p.shape for p in decayed["params"]] == [model[0].weight.shape]
    assert len(plain["params"]) == 4  # conv bias, BN weight and bias, linear bias
    assert plain["weight_decay"] == 0.0 and plain["lars_adaptation"] is False
    assert decayed["weight_decay"] == 0.1


def test_lars_scales_each_layers_step_to_a_fraction_of_its_norm() -> None:
    weight = nn.Parameter(torch.full((4, 4), 2.0))  # norm 8
    optimizer = LARS([weight], lr=1.0, momentum=0.0, trust_coefficient=0.01)
    weight.grad = torch.full((4, 4), 100.0)  # huge gradient, norm 400
    optimizer.step()
    # step = eta * |w| * g / |g| = 0.01 * 8 * (100 / 400) = 0.02 per entry
    torch.testing.assert_close(weight.detach(), torch.full((4, 4), 2.0 - 0.02))


def _reference_lars_step(
    weight: torch.Tensor,
    grad: torch.Tensor,
    buffer: torch.Tensor | None,
    *,
    lr: float,
    eta: float,
    weight_decay: float,
    momentum: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One step of LARS with clip_lr written out by hand, scalar by scalar: the layer's
    local rate eta |w| / (|g| + wd |w|) divided by lr and capped at 1 scales (g + wd w)
    before the momentum buffer; the weight then moves by lr times the buffer."""
    w_norm = math.sqrt(sum(v * v for v in weight.flatten().tolist()))
    g_norm = math.sqrt(sum(v * v for v in grad.flatten().tolist()))
    local = eta * w_norm / (g_norm + weight_decay * w_norm + 1e-8)
    scale = min(local / lr, 1.0)
    update = (grad + weight_decay * weight) * scale
    buffer = update if buffer is None else momentum * buffer + update
    return weight - lr * buffer, buffer


@pytest.mark.parametrize("lr", [0.5, 1e-4])  # not capped; capped at lr
def test_lars_clip_lr_matches_a_hand_written_reference_step(lr: float) -> None:
    torch.manual_seed(0)
    start = torch.randn(5, 3, dtype=torch.float64)
    weight = nn.Parameter(start.clone())
    optimizer = LARS(
        [weight], lr=lr, momentum=0.9, weight_decay=1e-4, trust_coefficient=0.02, clip_lr=True
    )
    expected, buffer = start, None
    for _ in range(3):
        grad = torch.randn(5, 3, dtype=torch.float64)
        weight.grad = grad.clone()
        optimizer.step()
        expected, buffer = _reference_lars_step(
            expected, grad, buffer, lr=lr, eta=0.02, weight_decay=1e-4, momentum=0.9
        )
        torch.testing.assert_close(weight.detach(), expected)


def test_lars_clip_lr_caps_a_layers_step_at_plain_sgd() -> None:
    weight = nn.Parameter(torch.full((4, 4), 2.0))  # norm 8
    weight.grad = torch.full((4, 4), 0.001)  # tiny gradient: trust ratio 0.02 * 8 / 0.004 = 40
    LARS([weight], lr=0.1, momentum=0.0, trust_coefficient=0.02, clip_lr=True).step()
    torch.testing.assert_close(weight.detach(), torch.full((4, 4), 2.0 - 0.1 * 0.001))
    unclipped = nn.Parameter(torch.full((4, 4), 2.0))
    unclipped.grad = torch.full((4, 4), 0.001)
    LARS([unclipped], lr=0.1, momentum=0.0, trust_coefficient=0.02).step()
    torch.testing.assert_close(unclipped.detach(), torch.full((4, 4), 2.0 - 0.1 * 40 * 0.001))


def test_lars_falls_back_to_sgd_for_excluded_groups_and_zero_weights() -> None:
    bias = nn.Parameter(torch.ones(3))
    zero = nn.Parameter(torch.zeros(2, 2))
    groups: list[dict[str, Any]] = [
        {"params": [bias], "lars_adaptation": False},
        {"params": [zero]},
    ]
    optimizer = LARS(groups, lr=0.5, momentum=0.0)
    bias.grad, zero.grad = torch.ones(3), torch.ones(2, 2)
    optimizer.step()
    torch.testing.assert_close(bias.detach(), torch.full((3,), 0.5))
    torch.testing.assert_close(zero.detach(), torch.full((2, 2), -0.5))


@pytest.mark.parametrize("name", ["sgd", "lars", "adamw"])
def test_every_optimizer_lowers_a_quadratic(name: str) -> None:
    weight = nn.Parameter(torch.full((3, 3), 1.0))
    optimizer = build_optimizer(name, [weight], lr=0.1, weight_decay=0.0, momentum=0.9)
    for _ in range(5):
        optimizer.zero_grad()
        weight.square().sum().backward()
        optimizer.step()
    assert weight.square().sum() < 9.0


def test_unknown_optimizer_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="known"):
        build_optimizer(
            "rmsprop", [nn.Parameter(torch.ones(1))], lr=0.1, weight_decay=0, momentum=0
        )


def test_warmup_is_linear_then_cosine_decays_to_zero() -> None:
    values = [warmup_cosine(step, total_steps=12, warmup_steps=4) for step in range(12)]
    assert values[:4] == [0.25, 0.5, 0.75, 1.0]
    assert values[4] == 1.0
    assert values[8] == pytest.approx(0.5 * (1 + math.cos(math.pi * 4 / 8)))
    assert all(a >= b for a, b in itertools.pairwise(values[4:]))
    assert warmup_cosine(12, total_steps=12, warmup_steps=4) == pytest.approx(0.0)
    with pytest.raises(ValueError, match="warmup_steps"):
        warmup_cosine(0, total_steps=3, warmup_steps=4)


def test_scheduler_sets_the_learning_rate_of_each_step() -> None:
    optimizer = build_optimizer(
        "sgd", [nn.Parameter(torch.ones(1))], lr=1.0, weight_decay=0, momentum=0
    )
    scheduler = build_scheduler(optimizer, total_steps=4, warmup_steps=2)
    seen = []
    for _ in range(4):
        seen.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    assert seen == pytest.approx([0.5, 1.0, 1.0, 0.5])
