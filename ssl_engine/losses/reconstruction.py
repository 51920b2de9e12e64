"""Reconstruction errors for predictive methods: energy measured in pixel space.

Both functions return one value per sample, (B,), not a batch mean: the methods average
them into a training loss and hand them out unchanged as energies E(x, y).
"""

from __future__ import annotations

import torch
from torch import Tensor


def per_sample_mse(prediction: Tensor, target: Tensor) -> Tensor:
    """Mean squared error over every non-batch dimension, one value per sample.

    The squared reconstruction error of a denoising autoencoder (Vincent et al.,
    "Extracting and Composing Robust Features with Denoising Autoencoders", ICML 2008,
    section 2.2), averaged rather than summed so its scale does not depend on image size.

    prediction, target: (B, ...) with the same shape. Returns (B,).
    """
    if prediction.shape != target.shape or prediction.ndim < 2 or prediction.shape[0] == 0:
        raise ValueError(
            f"prediction and target must share a (B, ...) shape with B >= 1, got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
    squared = (prediction.float() - target.float()) ** 2  # (B, ...)
    return squared.flatten(1).mean(dim=1)  # (B,)


def masked_patch_mse(
    prediction: Tensor,
    target: Tensor,
    mask: Tensor,
    *,
    normalize_target: bool = False,
    eps: float = 1e-6,
) -> Tensor:
    """MAE's loss: per-patch MSE, averaged over the masked patches only.

    He et al., "Masked Autoencoders Are Scalable Vision Learners", CVPR 2022, section 3:
    visible patches are not scored. With ``normalize_target`` each target patch is
    standardised by its own mean and variance first (the paper's "normalized pixels",
    which sharpen local contrast and improve the representation).

    prediction, target: (B, N, P) patches of P values; mask: (B, N) bool or 0/1, true
    where a patch was hidden from the encoder. Every sample needs one masked patch.
    Returns (B,).
    """
    if prediction.ndim != 3 or prediction.shape != target.shape:
        raise ValueError(
            f"prediction and target must both be (B, N, P) with the same shape, got "
            f"{tuple(prediction.shape)} and {tuple(target.shape)}"
        )
    if mask.shape != prediction.shape[:2]:
        raise ValueError(
            f"mask must be (B, N) = {tuple(prediction.shape[:2])}, got {tuple(mask.shape)}"
        )
    weights = mask.float()  # (B, N)
    masked_count = weights.sum(dim=1)  # (B,)
    if bool((masked_count == 0).any()):
        raise ValueError("mask must hide at least one patch in every sample")
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")

    target = target.float()
    if normalize_target:
        mean = target.mean(dim=-1, keepdim=True)  # (B, N, 1)
        var = target.var(dim=-1, unbiased=False, keepdim=True)  # (B, N, 1)
        target = (target - mean) / torch.sqrt(var + eps)  # (B, N, P)
    per_patch = ((prediction.float() - target) ** 2).mean(dim=-1)  # (B, N)
    return (per_patch * weights).sum(dim=1) / masked_count  # (B,)
