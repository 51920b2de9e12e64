"""PCA whitening of a feature matrix, on whatever device the features live on.

DeepCluster (Caron et al., ECCV 2018, section 3.3) and DeeperCluster (Caron et al., ICCV
2019) cluster features that are PCA-reduced, whitened and L2-normalised: without the
whitening, a few high-variance directions decide every k-means assignment.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# Relative floor on the eigenvalues, so directions with (almost) no variance are not
# blown up to unit variance by the whitening.
EIGENVALUE_FLOOR = 1e-6


@torch.no_grad()
def pca_whiten(features: Tensor, dim: int) -> Tensor:
    """(N, D) features -> (N, min(dim, D)) float32 unit rows: centred, projected on the leading
    principal axes, each axis scaled to unit variance, then L2-normalised."""
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got {tuple(features.shape)}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, got {dim}")
    x = features.double()  # (N, D); float64 keeps the small eigenvalues meaningful
    x = x - x.mean(dim=0, keepdim=True)
    covariance = x.T @ x / max(len(x) - 1, 1)  # (D, D)
    eigenvalues, eigenvectors = torch.linalg.eigh(covariance)  # ascending
    keep = min(dim, x.shape[1])
    axes = eigenvectors[:, -keep:].flip(1)  # (D, d), largest variance first
    variances = eigenvalues[-keep:].flip(0)  # (d,)
    variances = variances.clamp(min=EIGENVALUE_FLOOR * max(float(variances[0]), 1e-12))
    whitened = (x @ axes) / variances.sqrt()  # (N, d)
    return F.normalize(whitened, dim=1).float()
