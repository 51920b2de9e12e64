"""Barlow Twins and VICReg terms against naive, loop-based references."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ssl_engine.losses.regularized import (
    barlow_invariance_term,
    barlow_redundancy_term,
    covariance_loss,
    cross_correlation,
    invariance_loss,
    variance_loss,
)


def _naive_standardise(z: Tensor, eps: float) -> list[list[float]]:
    n, d = z.shape
    out = [[0.0] * d for _ in range(n)]
    for j in range(d):
        column = [float(z[b, j]) for b in range(n)]
        mean = sum(column) / n
        var = sum((x - mean) ** 2 for x in column) / n
        for b in range(n):
            out[b][j] = (column[b] - mean) / math.sqrt(var + eps)
    return out


def _naive_cross_correlation(z1: Tensor, z2: Tensor, eps: float = 1e-5) -> Tensor:
    a, b = _naive_standardise(z1, eps), _naive_standardise(z2, eps)
    n, d = z1.shape
    c = torch.zeros(d, d, dtype=torch.float64)
    for i in range(d):
        for j in range(d):
            c[i, j] = sum(a[k][i] * b[k][j] for k in range(n)) / n
    return c


def _naive_barlow(c: Tensor) -> tuple[float, float]:
    d = c.shape[0]
    on = sum((1 - float(c[i, i])) ** 2 for i in range(d))
    off = sum(float(c[i, j]) ** 2 for i in range(d) for j in range(d) if i != j)
    return on, off


def _naive_covariance_loss(z: Tensor) -> float:
    n, d = z.shape
    means = [sum(float(z[b, j]) for b in range(n)) / n for j in range(d)]
    total = 0.0
    for i in range(d):
        for j in range(d):
            if i == j:
                continue
            cov = sum((float(z[b, i]) - means[i]) * (float(z[b, j]) - means[j]) for b in range(n))
            total += (cov / (n - 1)) ** 2
    return total / d


def _naive_variance_loss(z: Tensor, gamma: float, eps: float) -> float:
    n, d = z.shape
    total = 0.0
    for j in range(d):
        column = [float(z[b, j]) for b in range(n)]
        mean = sum(column) / n
        var = sum((x - mean) ** 2 for x in column) / (n - 1)
        total += max(0.0, gamma - math.sqrt(var + eps))
    return total / d


@pytest.fixture
def pair() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    z1 = torch.randn(7, 5, generator=g, dtype=torch.float64)
    z2 = z1 + 0.5 * torch.randn(7, 5, generator=g, dtype=torch.float64)
    return z1, z2


def test_cross_correlation_matches_naive_reference(pair: tuple[Tensor, Tensor]) -> None:
    z1, z2 = pair
    torch.testing.assert_close(cross_correlation(z1, z2), _naive_cross_correlation(z1, z2))


def test_cross_correlation_is_transposed_when_views_swap(pair: tuple[Tensor, Tensor]) -> None:
    z1, z2 = pair
    torch.testing.assert_close(cross_correlation(z2, z1), cross_correlation(z1, z2).T)


def test_barlow_terms_match_naive_reference(pair: tuple[Tensor, Tensor]) -> None:
    c = cross_correlation(*pair)
    on, off = _naive_barlow(c)
    assert barlow_invariance_term(c).item() == pytest.approx(on)
    assert barlow_redundancy_term(c).item() == pytest.approx(off)


def test_barlow_terms_vanish_for_identical_decorrelated_views() -> None:
    # Two orthogonal +-1 columns: standardised, they are uncorrelated with unit variance.
    z = torch.tensor([[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]], dtype=torch.float64)
    c = cross_correlation(z, z, eps=0.0)
    assert barlow_invariance_term(c).item() == pytest.approx(0.0, abs=1e-12)
    assert barlow_redundancy_term(c).item() == pytest.approx(0.0, abs=1e-12)


def test_invariance_loss_matches_naive_reference_and_is_symmetric(
    pair: tuple[Tensor, Tensor],
) -> None:
    z1, z2 = pair
    n, d = z1.shape
    naive = sum(float(z1[b, j] - z2[b, j]) ** 2 for b in range(n) for j in range(d)) / (n * d)
    assert invariance_loss(z1, z2).item() == pytest.approx(naive)
    assert invariance_loss(z2, z1).item() == pytest.approx(naive)


@pytest.mark.parametrize("scale", [0.1, 3.0])
def test_variance_loss_matches_naive_reference(pair: tuple[Tensor, Tensor], scale: float) -> None:
    z = pair[0] * scale
    expected = _naive_variance_loss(z, gamma=1.0, eps=1e-4)
    assert variance_loss(z).item() == pytest.approx(expected)


def test_variance_loss_is_zero_for_spread_features_and_gamma_for_collapsed() -> None:
    spread = torch.tensor([[-5.0, 5.0], [5.0, -5.0]])
    collapsed = torch.ones(4, 3)
    assert variance_loss(spread).item() == 0.0
    assert variance_loss(collapsed, eps=1e-12).item() == pytest.approx(1.0, abs=1e-5)


def test_covariance_loss_matches_naive_reference(pair: tuple[Tensor, Tensor]) -> None:
    z = pair[0]
    assert covariance_loss(z).item() == pytest.approx(_naive_covariance_loss(z))


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: cross_correlation(torch.zeros(4, 3), torch.zeros(4, 2)), "same shape"),
        (lambda: cross_correlation(torch.zeros(1, 3), torch.zeros(1, 3)), "at least 2"),
        (lambda: barlow_invariance_term(torch.zeros(2, 3)), "square"),
        (lambda: barlow_redundancy_term(torch.zeros(4)), "square"),
        (lambda: invariance_loss(torch.zeros(4, 3), torch.zeros(3, 3)), "same shape"),
        (lambda: variance_loss(torch.zeros(4)), r"\(B, D\)"),
        (lambda: variance_loss(torch.zeros(4, 2), gamma=0.0), "positive"),
        (lambda: covariance_loss(torch.zeros(1, 3)), "at least 2"),
    ],
)
def test_invalid_arguments_raise_value_error(call: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        call()  # type: ignore[operator]
