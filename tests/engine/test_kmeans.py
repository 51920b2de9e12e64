"""Spherical k-means: recovers well-separated directions, deterministic, chunk-independent."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_engine.kmeans import spherical_kmeans


def _three_directions(points_per_cluster: int = 20) -> tuple[Tensor, Tensor]:
    """Noisy points around three orthogonal axes, with their true cluster ids."""
    g = torch.Generator().manual_seed(0)
    axes = torch.eye(3, 8) * 5.0  # (3, 8)
    labels = torch.arange(3).repeat_interleave(points_per_cluster)  # (N,)
    points = axes[labels] + 0.3 * torch.randn(len(labels), 8, generator=g)  # (N, 8)
    return points, labels


def test_recovers_well_separated_clusters() -> None:
    points, labels = _three_directions()
    result = spherical_kmeans(points, 3, generator=torch.Generator().manual_seed(1))
    # Same partition up to renaming: each true cluster maps to exactly one found cluster.
    pairs = {(int(t), int(a)) for t, a in zip(labels, result.assignments, strict=True)}
    assert len(pairs) == 3 and len({a for _, a in pairs}) == 3


def test_centroids_are_unit_vectors_and_assignments_are_their_nearest() -> None:
    points, _ = _three_directions()
    result = spherical_kmeans(points, 4, generator=torch.Generator().manual_seed(2))
    torch.testing.assert_close(result.centroids.norm(dim=1), torch.ones(4))
    similarity = F.normalize(points, dim=1) @ result.centroids.T  # (N, K)
    assert torch.equal(result.assignments, similarity.argmax(dim=1))
    assert result.assignments.dtype == torch.int64


def test_same_generator_seed_gives_same_clustering_whatever_the_chunk_size() -> None:
    points = torch.randn(50, 6, generator=torch.Generator().manual_seed(3))
    first = spherical_kmeans(points, 5, generator=torch.Generator().manual_seed(4))
    again = spherical_kmeans(points, 5, generator=torch.Generator().manual_seed(4), chunk_size=7)
    assert torch.equal(first.assignments, again.assignments)
    torch.testing.assert_close(first.centroids, again.centroids)


def test_every_cluster_keeps_points_when_k_equals_n() -> None:
    points = torch.randn(6, 4, generator=torch.Generator().manual_seed(5))
    result = spherical_kmeans(points, 6, generator=torch.Generator().manual_seed(6))
    assert sorted(result.assignments.tolist()) == list(range(6))


@pytest.mark.parametrize(
    ("features", "k", "match"),
    [
        (torch.zeros(10), 2, "features"),
        (torch.randn(4, 3), 5, "num_clusters"),
        (torch.randn(4, 3), 0, "num_clusters"),
    ],
)
def test_invalid_arguments_raise_value_error(features: Tensor, k: int, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        spherical_kmeans(features, k)
