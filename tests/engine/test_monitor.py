"""Collapse statistics: spread embeddings pass, collapsed ones are flagged."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_engine.monitor import CollapseMonitor, effective_rank, embedding_std


def test_random_embeddings_have_std_near_one_over_sqrt_dim_and_are_not_flagged() -> None:
    z = torch.randn(512, 64, generator=torch.Generator().manual_seed(0))
    assert embedding_std(z) == pytest.approx(1 / math.sqrt(64), rel=0.05)
    report = CollapseMonitor().update(z)
    assert not report.collapsed
    assert report.metrics["collapse_std_ratio"] == pytest.approx(1.0, rel=0.05)


def test_constant_embeddings_are_flagged_with_zero_std_and_rank_one() -> None:
    z = torch.ones(32, 16) * torch.linspace(0.5, 2.0, 16)  # one vector repeated
    report = CollapseMonitor().update(z)
    assert report.collapsed
    assert report.metrics["collapse_std"] == pytest.approx(0.0, abs=1e-6)
    assert report.metrics["effective_rank"] == pytest.approx(1.0, abs=1e-3)


def test_std_ignores_scale_so_shrinking_embeddings_is_not_collapse() -> None:
    z = torch.randn(256, 32, generator=torch.Generator().manual_seed(1))
    assert embedding_std(1e-3 * z) == pytest.approx(embedding_std(z), rel=1e-4)


def test_effective_rank_counts_equally_used_directions() -> None:
    z = torch.zeros(9, 6)
    z[torch.arange(9), torch.arange(9) % 3] = 1.0  # three orthogonal directions, equal use
    assert effective_rank(z) == pytest.approx(3.0, rel=1e-4)
    assert effective_rank(torch.zeros(4, 4)) == 0.0


def test_rejects_batches_that_cannot_have_a_spread() -> None:
    with pytest.raises(ValueError, match="B >= 2"):
        embedding_std(torch.randn(1, 8))
