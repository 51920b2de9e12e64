"""Denoising autoencoder specifics: the two corruptions and a deterministic energy."""

from __future__ import annotations

import pytest
import torch

from ssl_engine.methods.base import Batch
from ssl_engine.methods.dae import DAE, DAEHyperparameters, corrupt


def test_masking_noise_zeroes_the_requested_share_of_whole_pixels() -> None:
    torch.manual_seed(0)
    images = 0.5 + 0.5 * torch.rand(8, 3, 32, 32)  # no pixel is already zero
    noisy = corrupt(images, "masking", masking_fraction=0.25, noise_std=0.0)
    zeroed = noisy == 0  # (B, 3, H, W)
    assert (zeroed.all(dim=1) == zeroed.any(dim=1)).all()  # all three channels together
    assert zeroed[:, 0].float().mean().item() == pytest.approx(0.25, abs=0.02)
    kept = ~zeroed
    assert torch.equal(noisy[kept], images[kept])


def test_gaussian_noise_has_the_requested_spread_and_stays_in_range() -> None:
    torch.manual_seed(0)
    images = torch.full((8, 3, 32, 32), 0.5)
    noisy = corrupt(images, "gaussian", masking_fraction=0.0, noise_std=0.1)
    assert (noisy - images).std().item() == pytest.approx(0.1, rel=0.05)
    assert noisy.min() >= 0 and noisy.max() <= 1
    assert corrupt(images, "gaussian", masking_fraction=0.0, noise_std=2.0).max() <= 1


def test_energy_reconstructs_the_clean_input_deterministically() -> None:
    torch.manual_seed(0)
    method = DAE(backbone="conv_small", image_size=16, hparams=DAEHyperparameters()).eval()
    x, y = torch.rand(3, 3, 16, 16), torch.rand(3, 3, 16, 16)
    with torch.no_grad():
        first = method.energy(x, y)
        torch.manual_seed(99)
        torch.testing.assert_close(method.energy(x, y), first)
        reconstruction = torch.sigmoid(method.decoder(method.encoder(x)))
        expected = ((reconstruction - y) ** 2).flatten(1).mean(dim=1)
    torch.testing.assert_close(first, expected)


@pytest.mark.parametrize("corruption", ["masking", "gaussian"])
def test_training_step_reports_the_reconstruction_term(corruption: str) -> None:
    torch.manual_seed(0)
    hparams = DAEHyperparameters(corruption=corruption)
    method = DAE(backbone="conv_small", image_size=16, hparams=hparams)
    output = method.training_step(Batch(images=torch.rand(4, 3, 16, 16), indices=torch.arange(4)))
    assert output.metrics["loss_reconstruction"] == pytest.approx(output.loss.item())
    assert output.embeddings is not None and output.embeddings.shape == (4, method.embed_dim)
