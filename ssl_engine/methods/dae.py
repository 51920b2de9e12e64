"""Denoising autoencoder: reconstruct a clean image from a corrupted copy.

Vincent, Larochelle, Bengio and Manzagol, "Extracting and Composing Robust Features with
Denoising Autoencoders", ICML 2008.

Energy view: a predictive method. E(x, y) is the squared error of reconstructing y from
x. Collapse is prevented by the architecture and the task: the input is corrupted, so
the identity map is not a solution, and the network must learn which clean images are
likely to explain a noisy one. The paper's corruption is masking noise (a random fraction
of the inputs set to 0); additive Gaussian noise is the other classic choice.

    view -> corrupt -> encoder -> code (B, C, h, w) -> decoder -> sigmoid -> (B, 3, H, W)
    loss = MSE against the clean view

Users get the code averaged over positions, (B, C). Energies use the clean x, as a
trained denoiser is meant to be applied.
"""

from __future__ import annotations

from typing import Literal

import torch
from pydantic import Field
from torch import Tensor

from ssl_engine.conv_autoencoder import ConvDecoder
from ssl_engine.losses.reconstruction import per_sample_mse
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Family,
    Hyperparameters,
    StepOutput,
)
from ssl_engine.methods.conv_autoencoding import ConvAutoencodingMethod

Corruption = Literal["masking", "gaussian"]


def corrupt(
    images: Tensor, kind: Corruption, *, masking_fraction: float, noise_std: float
) -> Tensor:
    """(B, 3, H, W) in [0, 1] -> a corrupted copy in [0, 1], fresh noise for every sample.

    masking: each pixel (all three channels together) is zeroed with probability
    ``masking_fraction`` (Vincent et al., 2008, section 2.3, applied per pixel location).
    gaussian: adds N(0, noise_std^2) to every value and clips back to [0, 1].
    """
    if kind == "masking":
        b, _, h, w = images.shape
        kept = torch.rand(b, 1, h, w, device=images.device) >= masking_fraction  # (B, 1, H, W)
        return images * kept  # (B, 3, H, W)
    return (images + noise_std * torch.randn_like(images)).clamp(0.0, 1.0)  # (B, 3, H, W)


class DAEHyperparameters(Hyperparameters):
    """The denoising autoencoder's knobs: which corruption and how strong."""

    corruption: Corruption = Field(
        "masking", description="Corruption of the input: the paper's masking noise, or gaussian."
    )
    masking_fraction: float = Field(
        0.25,
        ge=0,
        lt=1,
        description="Fraction of pixels zeroed by masking noise (paper: 10% to 50%; 25% here).",
    )
    noise_std: float = Field(
        0.1, ge=0, le=1, description="Standard deviation of Gaussian noise on [0, 1] pixels."
    )


class DAE(ConvAutoencodingMethod):
    """Convolutional encoder and decoder trained to undo a corruption of the input."""

    reconstructs = True

    name = "dae"
    family = Family.PREDICTIVE
    collapse_prevention = CollapsePrevention.ARCHITECTURAL
    summary = (
        "Corrupts each image (masking or Gaussian noise) and trains a convolutional "
        "autoencoder to reconstruct the clean image."
    )
    paper = (
        "Vincent, Larochelle, Bengio, Manzagol. Extracting and Composing Robust Features "
        "with Denoising Autoencoders. ICML 2008"
    )
    hyperparameters_model = DAEHyperparameters

    def __init__(self, *, backbone: str, image_size: int, hparams: DAEHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        self.decoder = ConvDecoder(self._set_encoder(backbone, image_size))
        self.embed_dim = self.encoder.out_channels

    def _reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> code (B, C, h, w) and reconstruction (B, 3, H, W) in [0, 1]."""
        code = self.encoder(x)  # (B, C, h, w)
        return code, torch.sigmoid(self.decoder(code))  # ..., (B, 3, H, W)

    def _corrupt(self, x: Tensor) -> Tensor:
        """(B, 3, H, W) -> the same images corrupted as the hyperparameters say."""
        return corrupt(
            x,
            self.hparams.corruption,
            masking_fraction=self.hparams.masking_fraction,
            noise_std=self.hparams.noise_std,
        )  # (B, 3, H, W)

    def training_step(self, batch: Batch) -> StepOutput:
        views = self.augment(batch.images)  # (B, 3, S, S)
        noisy = self._corrupt(views)  # (B, 3, S, S)
        code, reconstruction = self._reconstruct(noisy)
        loss = per_sample_mse(reconstruction, views).mean()
        return StepOutput(
            loss=loss,
            metrics={"loss_reconstruction": loss.item()},
            embeddings=code.mean(dim=(2, 3)).detach(),  # (B, C)
        )

    def embed(self, x: Tensor) -> Tensor:
        return self.encoder(x).mean(dim=(2, 3))  # (B, C)

    def reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        noisy = self._corrupt(x)  # (B, 3, H, W)
        return noisy.clamp(0, 1), self._reconstruct(noisy)[1]  # noisy | denoised

    def energy(self, x: Tensor, y: Tensor) -> Tensor:
        """Mean squared error of y against the reconstruction of (clean) x."""
        return per_sample_mse(self._reconstruct(x)[1], y)  # (B,)
