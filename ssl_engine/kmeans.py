"""Spherical k-means on torch tensors, on whatever device the features live on.

DeepCluster (Caron et al., ECCV 2018) clusters the features of the whole dataset at
every epoch; DeepCluster-v2 (Caron et al., NeurIPS 2020, SwAV paper appendix) does it
on L2-normalised projections with cosine similarity, which is what this computes:
assign each point to its most similar centroid, move each centroid to the normalised
mean of its points, repeat. Similarities are computed in chunks of rows, so an
(N, K) matrix never has to fit in memory at once (50 000 x 3 000 floats is 600 MB).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor


@dataclass(frozen=True)
class KMeansResult:
    """centroids: (K, D) unit vectors; assignments: (N,) int64 index of each point's centroid."""

    centroids: Tensor
    assignments: Tensor


def _nearest_centroid(points: Tensor, centroids: Tensor, chunk_size: int) -> Tensor:
    """(N, D) unit points, (K, D) unit centroids -> (N,) index of the most similar centroid."""
    return torch.cat(
        [(chunk @ centroids.T).argmax(dim=1) for chunk in points.split(chunk_size)]
    )  # (N,)


@torch.no_grad()
def spherical_kmeans(
    features: Tensor,
    num_clusters: int,
    *,
    iterations: int = 10,
    generator: torch.Generator | None = None,
    chunk_size: int = 4096,
) -> KMeansResult:
    """Cluster (N, D) features into ``num_clusters`` groups by cosine similarity.

    Centroids start at ``num_clusters`` distinct points drawn at random; a cluster that
    loses all its points is re-seeded at a random point, so every centroid stays in use.
    ``generator`` (a CPU generator) makes the result reproducible. The returned
    assignments are those of the final centroids.
    """
    if features.ndim != 2:
        raise ValueError(f"features must be (N, D), got {tuple(features.shape)}")
    num_points = features.shape[0]
    if not 1 <= num_clusters <= num_points:
        raise ValueError(f"num_clusters must be in [1, N={num_points}], got {num_clusters}")
    if iterations < 1:
        raise ValueError(f"iterations must be >= 1, got {iterations}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")

    points = F.normalize(features.float(), dim=1)  # (N, D)
    start = torch.randperm(num_points, generator=generator)[:num_clusters].to(points.device)
    centroids = points[start].clone()  # (K, D)
    for _ in range(iterations):
        assignments = _nearest_centroid(points, centroids, chunk_size)  # (N,)
        sums = torch.zeros_like(centroids).index_add_(0, assignments, points)  # (K, D)
        counts = torch.bincount(assignments, minlength=num_clusters)  # (K,)
        empty = (counts == 0).nonzero().squeeze(1)  # (E,)
        if empty.numel() > 0:
            reseed = torch.randint(num_points, (empty.numel(),), generator=generator)
            sums[empty] = points[reseed.to(points.device)]
        centroids = F.normalize(sums, dim=1)  # (K, D)
    return KMeansResult(centroids, _nearest_centroid(points, centroids, chunk_size))
