"""Collapse monitor: is the encoder still spreading its inputs out?

Collapse (every input mapped to nearly the same point) is the central failure of
joint-embedding methods, and the loss alone often hides it. Two cheap statistics of a
batch of embeddings tell:

* the std over the batch of L2-normalised embeddings, averaged over dimensions. For
  vectors spread uniformly on the unit sphere of R^D each coordinate has variance 1/D,
  so the std is about 1/sqrt(D); it is 0 when all embeddings point the same way. The
  ratio std * sqrt(D) is therefore ~1 when healthy and ~0 when collapsed, whatever D.
  (The diagnostic of SimSiam, Chen & He, "Exploring Simple Siamese Representation
  Learning", CVPR 2021, section 4.1.)
* the effective rank (Roy & Vetterli, "The effective rank: a measure of effective
  dimensionality", EUSIPCO 2007): exp of the entropy of the normalised singular values,
  between 1 (everything on one line) and min(B, D). It catches dimensional collapse,
  where embeddings still differ but only along a few directions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

# Flag collapse when std * sqrt(D) < 0.2: a fifth of the spread of random directions.
# Healthy runs sit well above 0.5 after warm-up; fully collapsed runs fall towards 0.
COLLAPSE_STD_RATIO = 0.2


def _check_embeddings(z: Tensor) -> None:
    if z.ndim != 2 or z.shape[0] < 2:
        raise ValueError(f"embeddings must be (B, D) with B >= 2, got {tuple(z.shape)}")


def embedding_std(z: Tensor) -> float:
    """Std over the batch of L2-normalised (B, D) embeddings, averaged over the D dims."""
    _check_embeddings(z)
    z = F.normalize(z.detach().float(), dim=1)  # (B, D)
    return z.std(dim=0).mean().item()


def effective_rank(z: Tensor) -> float:
    """exp(entropy of singular values / their sum) of (B, D) embeddings; 0 for all zeros."""
    _check_embeddings(z)
    singular_values = torch.linalg.svdvals(z.detach().float())  # (min(B, D),)
    total = singular_values.sum()
    if total <= 0:
        return 0.0
    p = singular_values / total  # (min(B, D),) a distribution
    p = p[p > 0]
    entropy = -(p * p.log()).sum()
    return entropy.exp().item()


@dataclass(frozen=True)
class CollapseReport:
    """Metrics to log for one batch, and whether they signal collapse."""

    metrics: dict[str, float]
    collapsed: bool


class CollapseMonitor:
    """Turns a batch of embeddings into logged metrics and a collapse flag."""

    def __init__(self, std_ratio_threshold: float = COLLAPSE_STD_RATIO) -> None:
        self.std_ratio_threshold = std_ratio_threshold

    def update(self, z: Tensor) -> CollapseReport:
        """(B, D) embeddings -> collapse_std, collapse_std_ratio, effective_rank."""
        std = embedding_std(z)
        std_ratio = std * math.sqrt(z.shape[1])
        metrics = {
            "collapse_std": std,
            "collapse_std_ratio": std_ratio,
            "effective_rank": effective_rank(z),
        }
        return CollapseReport(metrics=metrics, collapsed=std_ratio < self.std_ratio_threshold)
