"""SimSiam: the stop-gradient, and the heads' shapes (BN-ended projector, bottleneck)."""

from __future__ import annotations

import pydantic
import pytest
import torch
from torch import Tensor, nn

from ssl_engine.losses.similarity import negative_cosine_similarity
from ssl_engine.methods.base import Batch
from ssl_engine.methods.simsiam import SimSiam, SimSiamHyperparameters


def tiny_simsiam() -> SimSiam:
    torch.manual_seed(0)
    hparams = SimSiamHyperparameters(
        projection_dim=32, projection_hidden_dim=32, predictor_hidden_dim=8
    )
    return SimSiam(backbone="tiny_cnn", image_size=16, hparams=hparams)


def test_defaults_are_the_papers() -> None:
    hparams = SimSiamHyperparameters()
    assert (hparams.projection_dim, hparams.projection_hidden_dim) == (2048, 2048)
    assert hparams.predictor_hidden_dim == 512
    assert hparams.projection_layers == 2  # the paper's CIFAR-10 projector


@pytest.mark.parametrize("bad", [{"projection_layers": 1}, {"predictor_hidden_dim": 0}, {"x": 1}])
def test_out_of_bounds_or_unknown_hyperparameters_are_rejected(bad: dict[str, int]) -> None:
    with pytest.raises(pydantic.ValidationError):
        SimSiamHyperparameters(**bad)


def test_projector_ends_with_affine_free_batch_norm_and_predictor_is_a_bottleneck() -> None:
    method = tiny_simsiam()
    last = method.projector[-1]
    assert isinstance(last, nn.BatchNorm1d) and not last.affine
    assert method.predictor[0].out_features == 8
    assert not isinstance(method.predictor[-1], nn.BatchNorm1d)


def test_gradient_reaches_the_projection_only_through_the_predictor() -> None:
    """With an identity predictor the loss is symmetric in z1 and z2, so without the
    stop-gradient each projection would get twice the gradient it gets with it."""
    method = tiny_simsiam()
    method.predictor = nn.Identity()  # type: ignore[assignment]
    captured: list[Tensor] = []

    def keep(_module: nn.Module, _inputs: object, z: Tensor) -> None:
        z.retain_grad()
        captured.append(z)

    method.projector.register_forward_hook(keep)
    output = method.training_step(Batch(images=torch.rand(8, 3, 16, 16), indices=torch.arange(8)))
    output.loss.backward()
    (z,) = captured  # (2B, P)

    leaf = z.detach().clone().requires_grad_()
    z_1, z_2 = leaf.split(8)
    stopped = (
        negative_cosine_similarity(z_1, z_2.detach())
        + negative_cosine_similarity(z_2, z_1.detach())
    ) / 2
    (expected,) = torch.autograd.grad(stopped, leaf)
    assert z.grad is not None
    torch.testing.assert_close(z.grad, expected)
    assert expected.abs().sum() > 0
