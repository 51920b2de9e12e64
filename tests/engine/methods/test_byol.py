"""BYOL: the EMA target on a cosine momentum schedule, and no gradient into the target."""

from __future__ import annotations

import math

import pydantic
import pytest
import torch

from ssl_engine.methods.base import Batch
from ssl_engine.methods.byol import BYOL, BYOLHyperparameters


def tiny_byol(**hparams: float | int) -> BYOL:
    torch.manual_seed(0)
    sizes = {"projection_dim": 16, "projection_hidden_dim": 32, "predictor_hidden_dim": 32}
    hparams = {**sizes, **hparams}
    return BYOL(backbone="tiny_cnn", image_size=16, hparams=BYOLHyperparameters(**hparams))


def batch(n: int = 8) -> Batch:
    return Batch(images=torch.rand(n, 3, 16, 16), indices=torch.arange(n))


def test_defaults_are_the_papers_with_a_cifar_base_momentum() -> None:
    hparams = BYOLHyperparameters()
    assert (hparams.projection_dim, hparams.projection_hidden_dim) == (256, 4096)
    assert hparams.predictor_hidden_dim == 4096
    assert hparams.base_momentum == 0.99


@pytest.mark.parametrize("bad", [{"base_momentum": -0.1}, {"base_momentum": 1.01}, {"tau": 1}])
def test_out_of_bounds_or_unknown_hyperparameters_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        BYOLHyperparameters(**bad)


@pytest.mark.parametrize(
    ("progress", "expected"),
    [(0.0, 0.9), (0.5, 0.95), (1.0, 1.0), (0.25, 1 - 0.1 * (math.cos(math.pi / 4) + 1) / 2)],
)
def test_target_momentum_follows_the_cosine_schedule(progress: float, expected: float) -> None:
    method = tiny_byol(base_momentum=0.9)
    method.on_step_end(progress)
    assert method.target_momentum == pytest.approx(expected)


def test_on_step_end_moves_the_target_towards_the_online_network() -> None:
    method = tiny_byol(base_momentum=0.9)
    with torch.no_grad():
        for p in method.projector.parameters():
            p.add_(1.0)
    before = [p.clone() for p in method.target_projector.parameters()]
    method.on_step_end(0.5)  # tau = 0.95
    for target, old, online in zip(
        method.target_projector.parameters(), before, method.projector.parameters(), strict=True
    ):
        torch.testing.assert_close(target, 0.95 * old + 0.05 * online)


def test_at_the_end_of_the_schedule_the_target_stops_moving() -> None:
    method = tiny_byol()
    before = [p.clone() for p in method.target_backbone.parameters()]
    with torch.no_grad():
        for p in method.backbone.parameters():
            p.add_(1.0)
    method.on_step_end(1.0)
    for target, old in zip(method.target_backbone.parameters(), before, strict=True):
        torch.testing.assert_close(target, old)


def test_no_gradient_reaches_the_target_network() -> None:
    method = tiny_byol()
    output = method.training_step(batch())
    output.loss.backward()
    target = [*method.target_backbone.parameters(), *method.target_projector.parameters()]
    assert all(not p.requires_grad and p.grad is None for p in target)
    assert all(p.grad is not None for p in method.predictor.parameters())
    assert output.metrics["loss_regression"] == pytest.approx(output.loss.item())
    assert 0.0 <= output.loss.item() <= 8.0  # two terms of 2 - 2 cos


def test_the_two_views_use_byols_asymmetric_augmentations() -> None:
    views = tiny_byol().views
    assert views.second is not None
    assert (views.first.config.solarize_p, views.second.config.solarize_p) == (0.0, 0.2)
