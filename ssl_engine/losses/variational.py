"""The two terms of the evidence lower bound (ELBO) of a variational autoencoder.

Kingma & Welling, "Auto-Encoding Variational Bayes", ICLR 2014: for a Gaussian posterior
q(z|x) = N(mu, diag(exp(logvar))) and a standard normal prior, the negative ELBO is
E_q[-log p(x|z)] + KL(q(z|x) || N(0, I)). Both terms are returned per sample, (B,), in
nats summed over dimensions, so their sum is the free energy of each input; the method
weights them (beta-VAE) and logs each one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def gaussian_kl_to_standard_normal(mu: Tensor, logvar: Tensor) -> Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) in closed form, summed over latent dims.

    Kingma & Welling (2014), appendix B: -1/2 sum_j (1 + logvar_j - mu_j^2 - exp(logvar_j)).
    Zero exactly when mu = 0 and logvar = 0.

    mu, logvar: (B, L). Returns (B,).
    """
    if mu.ndim != 2 or mu.shape != logvar.shape or mu.shape[0] == 0:
        raise ValueError(
            f"mu and logvar must both be (B, L) with the same shape and B >= 1, got "
            f"{tuple(mu.shape)} and {tuple(logvar.shape)}"
        )
    mu, logvar = mu.float(), logvar.float()
    return 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).sum(dim=1)  # (B,)


def bernoulli_nll(logits: Tensor, target: Tensor) -> Tensor:
    """-log p(target | logits) under independent Bernoulli pixels, summed per sample.

    The decoder likelihood Kingma & Welling (2014, appendix C.1) use for images with
    values in [0, 1]; with continuous targets this is the usual binary cross-entropy
    reconstruction term, whose minimum is the targets' entropy, not zero.

    logits: (B, ...) decoder outputs before the sigmoid; target: same shape, in [0, 1].
    Returns (B,).
    """
    if logits.shape != target.shape or logits.ndim < 2 or logits.shape[0] == 0:
        raise ValueError(
            f"logits and target must share a (B, ...) shape with B >= 1, got "
            f"{tuple(logits.shape)} and {tuple(target.shape)}"
        )
    with torch.autocast(device_type=logits.device.type, enabled=False):
        nll = F.binary_cross_entropy_with_logits(
            logits.float(), target.float(), reduction="none"
        )  # (B, ...)
    return nll.flatten(1).sum(dim=1)  # (B,)
