"""Variational autoencoder: a latent-variable model trained by maximising the ELBO.

Kingma and Welling, "Auto-Encoding Variational Bayes", ICLR 2014 (arXiv:1312.6114);
the KL weight beta is from Higgins et al., "beta-VAE", ICLR 2017 (beta = 1 is the VAE).

Energy view: a latent-variable method. The latent z sweeps the images the decoder can
produce; the energy of (x, y) is the free energy, the negative ELBO of y with the
posterior inferred from x. Collapse is prevented by regularisation: the KL term keeps
the posterior close to the N(0, I) prior, so the code cannot carry unbounded information.

    view -> encoder -> (mu, logvar) (B, L) -> z = mu + sigma * eps -> decoder -> logits
    loss = Bernoulli NLL(view | logits) + beta * KL(N(mu, sigma^2) || N(0, I)), per image

Users get the posterior mean mu. Energies are deterministic: the reconstruction term is
evaluated at z = mu instead of a random sample, and use beta = 1 (the true ELBO).
"""

from __future__ import annotations

import torch
from pydantic import Field
from torch import Tensor, nn

from ssl_engine.conv_autoencoder import ConvDecoder
from ssl_engine.losses.variational import bernoulli_nll, gaussian_kl_to_standard_normal
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    Family,
    Hyperparameters,
    StepOutput,
)
from ssl_engine.methods.conv_autoencoding import ConvAutoencodingMethod

LOGVAR_RANGE = (-30.0, 20.0)  # keeps exp(logvar) finite early in training


def reparameterize(mu: Tensor, logvar: Tensor) -> Tensor:
    """z = mu + exp(logvar / 2) * eps with eps ~ N(0, I): a sample that gradients pass through.

    Kingma & Welling (2014), section 2.4. mu, logvar: (B, L). Returns (B, L).
    """
    return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)  # (B, L)


class VAEHyperparameters(Hyperparameters):
    """The VAE's knobs: the latent size and the KL weight."""

    latent_dim: int = Field(
        128, ge=2, le=4096, description="Size of the latent code z (CIFAR VAEs: 128)."
    )
    beta: float = Field(
        1.0, ge=0, le=1000, description="Weight of the KL term; 1 is the VAE's ELBO (beta-VAE)."
    )


class VAE(ConvAutoencodingMethod):
    """Convolutional encoder to a Gaussian posterior, decoder to Bernoulli pixel logits."""

    generates = True
    reconstructs = True

    name = "vae"
    family = Family.LATENT_VARIABLE
    collapse_prevention = CollapsePrevention.REGULARIZED
    summary = (
        "Encodes each image to a Gaussian posterior over a latent code and decodes samples "
        "back to pixels, maximising the evidence lower bound (ELBO)."
    )
    paper = "Kingma, Welling. Auto-Encoding Variational Bayes. ICLR 2014. arXiv:1312.6114"
    hyperparameters_model = VAEHyperparameters
    # (optimizer: see ConvAutoencodingMethod; the KL term is the VAE's regulariser)

    def __init__(self, *, backbone: str, image_size: int, hparams: VAEHyperparameters) -> None:
        super().__init__()
        self.hparams = hparams
        widths = self._set_encoder(backbone, image_size)
        side = image_size // self.encoder.downsampling
        self.code_shape = (widths[-1], side, side)
        code_size = widths[-1] * side * side
        self.posterior = nn.Linear(code_size, 2 * hparams.latent_dim)  # -> (mu, logvar)
        self.from_latent = nn.Sequential(nn.Linear(hparams.latent_dim, code_size), nn.ReLU())
        self.decoder = ConvDecoder(widths)
        self.embed_dim = hparams.latent_dim

    def _posterior(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """(B, 3, H, W) -> mu (B, L), logvar (B, L) of q(z | x)."""
        mu, logvar = self.posterior(self.encoder(x).flatten(1)).chunk(2, dim=1)  # (B, L) each
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def _decode(self, z: Tensor) -> Tensor:
        """(B, L) latents -> (B, 3, H, W) Bernoulli logits."""
        code = self.from_latent(z).view(len(z), *self.code_shape)  # (B, C, h, w)
        return self.decoder(code)  # (B, 3, H, W)

    def training_step(self, batch: Batch) -> StepOutput:
        views = self.augment(batch.images)  # (B, 3, S, S)
        mu, logvar = self._posterior(views)  # (B, L) each
        logits = self._decode(reparameterize(mu, logvar))  # (B, 3, S, S)
        reconstruction = bernoulli_nll(logits, views).mean()  # nats per image
        kl = gaussian_kl_to_standard_normal(mu, logvar).mean()  # nats per image
        loss = reconstruction + self.hparams.beta * kl
        return StepOutput(
            loss=loss,
            metrics={
                "loss_reconstruction": reconstruction.item(),
                "loss_kl": kl.item(),
                "negative_elbo": (reconstruction + kl).item(),
            },
            embeddings=mu.detach(),  # (B, L)
        )

    def embed(self, x: Tensor) -> Tensor:
        return self._posterior(x)[0]  # (B, L) posterior mean

    def sample(self, count: int) -> Tensor:
        """Decode z ~ N(0, I): the generative model p(x | z) p(z) the ELBO trains."""
        z = torch.randn(count, self.hparams.latent_dim, device=self.posterior.weight.device)
        return torch.sigmoid(self._decode(z))  # (count, 3, S, S) Bernoulli means

    def reconstruct(self, x: Tensor) -> tuple[Tensor, Tensor]:
        return x, torch.sigmoid(self._decode(self._posterior(x)[0]))  # decoded at the mean

    def energy(self, x: Tensor, y: Tensor) -> Tensor:
        """Free energy: -log p(y | z = mu(x)) + KL(q(z | x) || p(z)), in nats."""
        mu, logvar = self._posterior(x)  # (B, L) each
        return bernoulli_nll(self._decode(mu), y) + gaussian_kl_to_standard_normal(mu, logvar)
