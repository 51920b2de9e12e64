"""Information-maximisation losses: the embedding statistics themselves prevent collapse.

Barlow Twins (Zbontar et al., "Barlow Twins: Self-Supervised Learning via Redundancy
Reduction", ICML 2021) drives the cross-correlation matrix of two views' embeddings to the
identity. VICReg (Bardes, Ponce & LeCun, "VICReg: Variance-Invariance-Covariance
Regularization for Self-Supervised Learning", ICLR 2022) splits the same idea into three
terms. Every term is its own function so a method can weight and log each one.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _full_precision(t: Tensor) -> Tensor:
    """float64 stays float64; anything else (bf16/fp16 under autocast) becomes float32."""
    return t if t.dtype == torch.float64 else t.float()


def _check_embeddings(z: Tensor, name: str = "z", min_rows: int = 2) -> None:
    if z.ndim != 2:
        raise ValueError(f"{name} must be (B, D), got shape {tuple(z.shape)}")
    if z.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows for batch statistics")


def _check_pair(z1: Tensor, z2: Tensor) -> None:
    _check_embeddings(z1, "z1")
    if z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )


def _off_diagonal(m: Tensor) -> Tensor:
    """(D, D) -> (D * (D - 1),) the entries off the main diagonal."""
    d = m.shape[0]
    return m.flatten()[:-1].view(d - 1, d + 1)[:, 1:].flatten()


# --- Barlow Twins ----------------------------------------------------------------------


def cross_correlation(z1: Tensor, z2: Tensor, eps: float = 1e-5) -> Tensor:
    """(B, D), (B, D) -> (D, D) cross-correlation of batch-standardised embeddings.

    Each feature is centred and divided by its (biased) batch standard deviation, as a
    BatchNorm without affine parameters would; entries then lie in [-1, 1] (up to eps).
    Computed in float32 even under autocast: bf16 sums of B products are too coarse for
    a matrix whose off-diagonal is pushed towards zero.
    """
    _check_pair(z1, z2)
    with torch.autocast(device_type=z1.device.type, enabled=False):
        z1, z2 = _full_precision(z1), _full_precision(z2)
        z1 = (z1 - z1.mean(0)) / torch.sqrt(z1.var(0, unbiased=False) + eps)  # (B, D)
        z2 = (z2 - z2.mean(0)) / torch.sqrt(z2.var(0, unbiased=False) + eps)  # (B, D)
        return z1.T @ z2 / z1.shape[0]  # (D, D)


def _check_square(c: Tensor) -> None:
    if c.ndim != 2 or c.shape[0] != c.shape[1]:
        raise ValueError(f"c must be a square (D, D) matrix, got shape {tuple(c.shape)}")


def barlow_invariance_term(c: Tensor) -> Tensor:
    """sum_i (1 - C_ii)^2: the diagonal of the (D, D) cross-correlation pulled to 1."""
    _check_square(c)
    return (1 - torch.diagonal(c)).pow(2).sum()


def barlow_redundancy_term(c: Tensor) -> Tensor:
    """sum_{i != j} C_ij^2: the off-diagonal of the (D, D) cross-correlation pushed to 0.

    The paper weights this term by lambda = 5e-3.
    """
    _check_square(c)
    return _off_diagonal(c).pow(2).sum()


# --- VICReg ----------------------------------------------------------------------------


def invariance_loss(z1: Tensor, z2: Tensor) -> Tensor:
    """VICReg's s(Z, Z'): mean squared distance between the two views' (B, D) embeddings."""
    _check_embeddings(z1, "z1", min_rows=1)
    if z1.shape != z2.shape:
        raise ValueError(
            f"z1 and z2 must have the same shape, got {tuple(z1.shape)} and {tuple(z2.shape)}"
        )
    return F.mse_loss(z1, z2)


def variance_loss(z: Tensor, gamma: float = 1.0, eps: float = 1e-4) -> Tensor:
    """VICReg's v(Z): hinge keeping each feature's batch std of (B, D) z above gamma.

    mean_j max(0, gamma - sqrt(Var(z_j) + eps)), with the unbiased variance as in the
    paper; eps keeps the gradient finite when a feature's variance is zero.
    """
    _check_embeddings(z)
    if gamma <= 0 or eps <= 0:
        raise ValueError(f"gamma and eps must be positive, got gamma={gamma}, eps={eps}")
    std = torch.sqrt(_full_precision(z).var(0) + eps)  # (D,)
    return F.relu(gamma - std).mean()


def covariance_loss(z: Tensor) -> Tensor:
    """VICReg's c(Z): squared off-diagonal covariances of (B, D) z, summed, divided by D.

    Computed in float32 even under autocast, for the reason given in ``cross_correlation``.
    """
    _check_embeddings(z)
    n, d = z.shape
    with torch.autocast(device_type=z.device.type, enabled=False):
        z = _full_precision(z)
        z = z - z.mean(0)  # (B, D)
        cov = z.T @ z / (n - 1)  # (D, D)
        return _off_diagonal(cov).pow(2).sum() / d
