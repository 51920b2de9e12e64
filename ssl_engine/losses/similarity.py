"""Regression of a prediction onto a target embedding, for non-contrastive siamese methods.

BYOL (Grill et al., "Bootstrap Your Own Latent: A New Approach to Self-Supervised
Learning", NeurIPS 2020) and SimSiam (Chen & He, "Exploring Simple Siamese Representation
Learning", CVPR 2021) both pull a predictor output p towards a target z of the other view.
These functions never detach the target: where the stop-gradient goes is the method's
decision, and the whole point of those papers.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def _check_pair(p: Tensor, z: Tensor) -> None:
    if p.ndim != 2 or p.shape != z.shape:
        raise ValueError(
            f"p and z must both be (B, D) with the same shape, got {tuple(p.shape)} "
            f"and {tuple(z.shape)}"
        )
    if p.shape[0] == 0:
        raise ValueError("p and z must hold at least one row")


def cosine_float32(p: Tensor, z: Tensor) -> Tensor:
    """(B, D), (B, D) -> (B,) cosine similarities in at least float32 (float64 stays).

    CPU autocast leaves norms and reductions in bf16, whose 8-bit mantissa makes
    cos(p, z) of nearly aligned vectors (late in training) visibly coarse.
    """
    dtype = torch.promote_types(torch.promote_types(p.dtype, z.dtype), torch.float32)
    with torch.autocast(device_type=p.device.type, enabled=False):
        return F.cosine_similarity(p.to(dtype), z.to(dtype), dim=1)  # (B,)


def negative_cosine_similarity(p: Tensor, z: Tensor) -> Tensor:
    """SimSiam's D(p, z) = -cos(p, z), averaged over the batch; a scalar in [-1, 1].

    p: (B, D) predictions, z: (B, D) targets.
    """
    _check_pair(p, z)
    return -cosine_float32(p, z).mean()  # (B,) -> ()


def normalized_mse(p: Tensor, z: Tensor) -> Tensor:
    """BYOL's ||p/||p|| - z/||z||||^2 = 2 - 2 cos(p, z), averaged over the batch; in [0, 4].

    p: (B, D) predictions, z: (B, D) targets.
    """
    _check_pair(p, z)
    return (2 - 2 * cosine_float32(p, z)).mean()  # (B,) -> ()
