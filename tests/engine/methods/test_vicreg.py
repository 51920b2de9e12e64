"""VICReg: three separately logged terms, combined with the paper's weights."""

from __future__ import annotations

import pydantic
import pytest
import torch

from ssl_engine.methods.base import Batch
from ssl_engine.methods.vicreg import VICReg, VICRegHyperparameters


def tiny_vicreg(**hparams: float) -> VICReg:
    torch.manual_seed(0)
    settings = {"projection_dim": 16, "projection_hidden_dim": 16, **hparams}
    return VICReg(backbone="tiny_cnn", image_size=16, hparams=VICRegHyperparameters(**settings))


def step(method: VICReg) -> tuple[float, dict[str, float]]:
    torch.manual_seed(1)
    images = torch.rand(8, 3, 16, 16)
    output = method.training_step(Batch(images=images, indices=torch.arange(8)))
    return output.loss.item(), output.metrics


def test_defaults_are_the_papers_weights_with_cifar_sized_expander() -> None:
    hparams = VICRegHyperparameters()
    weights = (hparams.invariance_weight, hparams.variance_weight, hparams.covariance_weight)
    assert weights == (25.0, 25.0, 1.0)
    assert (hparams.projection_dim, hparams.projection_hidden_dim) == (2048, 2048)


@pytest.mark.parametrize("bad", [{"variance_weight": -1.0}, {"covariance_weight": 1e4}, {"g": 1}])
def test_out_of_bounds_or_unknown_hyperparameters_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        VICRegHyperparameters(**bad)


def test_each_term_is_logged_and_weighted_into_the_loss() -> None:
    loss, metrics = step(tiny_vicreg())
    assert set(metrics) == {"loss_invariance", "loss_variance", "loss_covariance"}
    expected = (
        25 * metrics["loss_invariance"] + 25 * metrics["loss_variance"] + metrics["loss_covariance"]
    )
    assert loss == pytest.approx(expected, rel=1e-5)
    assert all(value > 0 for value in metrics.values())


def test_a_zero_weight_removes_its_term() -> None:
    loss, metrics = step(tiny_vicreg(variance_weight=0.0, covariance_weight=0.0))
    assert loss == pytest.approx(25 * metrics["loss_invariance"], rel=1e-5)


def test_variance_term_sums_both_branches_hinges() -> None:
    # Each branch's hinge is at most gamma = 1, so the logged sum lies in [0, 2].
    _, metrics = step(tiny_vicreg())
    assert 0.0 <= metrics["loss_variance"] <= 2.0
