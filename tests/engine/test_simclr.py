"""SimCLR: hyperparameter bounds, identity, one training step, embed and energy."""

from __future__ import annotations

import pydantic
import pytest
import torch

from ssl_engine.methods.base import Batch, CollapsePrevention, Family
from ssl_engine.methods.simclr import SimCLR, SimCLRHyperparameters


def tiny_simclr(**hparams: float | int | None) -> SimCLR:
    torch.manual_seed(0)
    return SimCLR(backbone="tiny_cnn", image_size=16, hparams=SimCLRHyperparameters(**hparams))


def test_identity_is_the_papers() -> None:
    assert SimCLR.family is Family.JOINT_EMBEDDING
    assert SimCLR.collapse_prevention is CollapsePrevention.CONTRASTIVE
    assert "2002.05709" in SimCLR.paper


@pytest.mark.parametrize("bad", [{"temperature": 0.0}, {"temperature": 10.5}, {"unknown": 1}])
def test_hyperparameters_out_of_bounds_or_unknown_are_rejected(bad: dict[str, float]) -> None:
    with pytest.raises(pydantic.ValidationError):
        SimCLRHyperparameters(**bad)


def test_projector_sizes_follow_the_hyperparameters() -> None:
    method = tiny_simclr(projection_dim=32, projection_hidden_dim=48)
    z = method.projector(torch.randn(4, method.embed_dim))
    assert method.projector[0].out_features == 48
    assert z.shape == (4, 32)


def test_training_step_gives_a_differentiable_loss_and_first_view_embeddings() -> None:
    method = tiny_simclr()
    images = torch.rand(8, 3, 16, 16)
    out = method.training_step(Batch(images=images, indices=torch.arange(8)))
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    assert out.metrics["loss_nt_xent"] == pytest.approx(out.loss.item())
    assert out.embeddings is not None and out.embeddings.shape == (8, method.embed_dim)
    assert not out.embeddings.requires_grad
    out.loss.backward()
    assert all(p.grad is not None for p in method.parameters())


def test_embed_is_the_backbone_output_and_energy_is_a_cosine_distance() -> None:
    method = tiny_simclr().eval()
    x, y = torch.rand(5, 3, 16, 16), torch.rand(5, 3, 16, 16)
    with torch.no_grad():
        torch.testing.assert_close(method.embed(x), method.backbone(x))
        energy = method.energy(x, y)
        self_energy = method.energy(x, x)
    assert energy.shape == (5,)
    assert ((energy >= 0) & (energy <= 2)).all()
    torch.testing.assert_close(self_energy, torch.zeros(5), atol=1e-5, rtol=0)
