"""Barlow Twins: the loss is invariance + lambda * redundancy, both logged."""

from __future__ import annotations

import pydantic
import pytest
import torch
from torch.nn.utils import parameters_to_vector

from ssl_engine.methods.barlow_twins import BarlowTwins, BarlowTwinsHyperparameters
from ssl_engine.methods.base import Batch
from ssl_engine.optim import build_optimizer, param_groups


def tiny_barlow(**hparams: float) -> BarlowTwins:
    torch.manual_seed(0)
    settings = {"projection_dim": 16, "projection_hidden_dim": 16, **hparams}
    return BarlowTwins(
        backbone="tiny_cnn", image_size=16, hparams=BarlowTwinsHyperparameters(**settings)
    )


def test_defaults_are_the_papers_lambda_with_cifar_sized_projector() -> None:
    hparams = BarlowTwinsHyperparameters()
    assert hparams.redundancy_weight == 5e-3
    assert (hparams.projection_dim, hparams.projection_hidden_dim) == (2048, 2048)
    assert hparams.projection_layers == 3


@pytest.mark.parametrize("bad", [{"redundancy_weight": 0.0}, {"redundancy_weight": 2.0}, {"l": 1}])
def test_out_of_bounds_or_unknown_hyperparameters_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        BarlowTwinsHyperparameters(**bad)


@pytest.mark.parametrize("weight", [5e-3, 0.5])
def test_loss_is_invariance_plus_lambda_times_redundancy(weight: float) -> None:
    method = tiny_barlow(redundancy_weight=weight)
    output = method.training_step(Batch(images=torch.rand(8, 3, 16, 16), indices=torch.arange(8)))
    metrics = output.metrics
    assert set(metrics) == {"loss_invariance", "loss_redundancy"}
    expected = metrics["loss_invariance"] + weight * metrics["loss_redundancy"]
    assert output.loss.item() == pytest.approx(expected, rel=1e-5)
    assert 0 <= metrics["loss_invariance"] <= 4 * 16  # each (1 - C_ii)^2 <= 4


def test_views_use_byols_asymmetric_augmentations() -> None:
    method = tiny_barlow()
    assert method.views.second is not None
    assert (method.views.first.config.solarize_p, method.views.second.config.solarize_p) == (
        0.0,
        0.2,
    )


def _first_step(method: BarlowTwins, images: torch.Tensor, loss_scale: float) -> torch.Tensor:
    """All parameters' change over one step of the method's default optimizer."""
    defaults = method.optimizer_defaults
    optimizer = build_optimizer(
        defaults.name,
        param_groups(method, defaults.weight_decay),
        lr=defaults.lr,
        weight_decay=defaults.weight_decay,
        momentum=defaults.momentum,
    )
    before = parameters_to_vector(method.parameters()).detach().clone()
    torch.manual_seed(1)  # the same views for every call
    output = method.training_step(Batch(images=images, indices=torch.arange(len(images))))
    (loss_scale * output.loss).backward()
    optimizer.step()
    return parameters_to_vector(method.parameters()).detach() - before


def test_default_optimizer_steps_do_not_grow_with_the_loss_scale() -> None:
    """The loss sums P + lambda * P * (P - 1) terms, so its gradients are about 1,000
    times SimCLR's at P = 2048; SGD at a SimCLR-like rate then wrecks the backbone in the
    first epoch (bench/RESULTS.md). The default optimizer's step must not depend on it."""
    images = torch.rand(8, 3, 16, 16)
    step = _first_step(tiny_barlow(), images, loss_scale=1.0)
    scaled = _first_step(tiny_barlow(), images, loss_scale=1000.0)
    assert step.abs().max() <= 1.01 * BarlowTwins.optimizer_defaults.lr  # whatever the loss
    # The same step (SGD's would be 1,000 times larger); parameters whose gradient is
    # only rounding noise (biases right before a BatchNorm) may flip sign, so compare norms.
    assert scaled.norm().item() == pytest.approx(step.norm().item(), rel=0.02)
    assert torch.nn.functional.cosine_similarity(scaled, step, dim=0) > 0.99
