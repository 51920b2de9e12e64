"""VAE specifics: the reparameterisation, the logged ELBO terms, a deterministic energy."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from ssl_engine.losses.variational import bernoulli_nll
from ssl_engine.methods.base import Batch
from ssl_engine.methods.vae import VAE, VAEHyperparameters, reparameterize


def _vae(beta: float = 1.0) -> VAE:
    torch.manual_seed(0)
    hparams = VAEHyperparameters(latent_dim=8, beta=beta)
    return VAE(backbone="conv_small", image_size=16, hparams=hparams)


def _batch() -> Batch:
    images = torch.rand(4, 3, 16, 16, generator=torch.Generator().manual_seed(1))
    return Batch(images=images, indices=torch.arange(4))


def test_reparameterised_samples_have_the_posterior_moments_and_pass_gradients() -> None:
    torch.manual_seed(0)
    mu = torch.tensor([1.0, -2.0]).repeat(20000, 1).requires_grad_()
    logvar = torch.tensor([0.0, 2 * torch.log(torch.tensor(0.5)).item()]).repeat(20000, 1)
    logvar.requires_grad_()
    z = reparameterize(mu, logvar)
    torch.testing.assert_close(z.mean(dim=0), torch.tensor([1.0, -2.0]), atol=0.03, rtol=0)
    torch.testing.assert_close(z.std(dim=0), torch.tensor([1.0, 0.5]), atol=0.03, rtol=0)
    z.sum().backward()
    assert mu.grad is not None and logvar.grad is not None and logvar.grad.abs().sum() > 0


def test_kl_term_is_zero_for_a_standard_normal_posterior() -> None:
    method = _vae()
    head: nn.Linear = method.posterior
    with torch.no_grad():
        head.weight.zero_()
        head.bias.zero_()  # mu = 0, logvar = 0 for every input
    output = method.training_step(_batch())
    assert output.metrics["loss_kl"] == 0.0
    assert output.loss.item() == pytest.approx(output.metrics["loss_reconstruction"])


def test_loss_weights_the_kl_term_by_beta_and_logs_each_term() -> None:
    method = _vae(beta=4.0)
    output = method.training_step(_batch())
    metrics = output.metrics
    expected = metrics["loss_reconstruction"] + 4.0 * metrics["loss_kl"]
    assert output.loss.item() == pytest.approx(expected, rel=1e-5)
    assert metrics["negative_elbo"] == pytest.approx(
        metrics["loss_reconstruction"] + metrics["loss_kl"], rel=1e-5
    )


def test_energy_is_the_deterministic_free_energy_at_the_posterior_mean() -> None:
    method = _vae(beta=4.0).eval()
    x, y = _batch().images, _batch().images.flip(0)
    with torch.no_grad():
        first = method.energy(x, y)
        torch.manual_seed(99)
        torch.testing.assert_close(method.energy(x, y), first)
        mu, logvar = method._posterior(x)
        kl = 0.5 * (mu**2 + logvar.exp() - 1 - logvar).sum(dim=1)
        expected = bernoulli_nll(method._decode(mu), y) + kl  # beta = 1: the true ELBO
    torch.testing.assert_close(first, expected)
    assert (first > 0).all()


def test_embed_is_the_posterior_mean() -> None:
    method = _vae().eval()
    images = _batch().images
    with torch.no_grad():
        torch.testing.assert_close(method.embed(images), method._posterior(images)[0])
