"""SwAV's and DeepCluster's losses against naive, loop-based references."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ssl_engine.losses.clustering import (
    cluster_classification_loss,
    sinkhorn_knopp,
    soft_cross_entropy,
    swapped_prediction_loss,
)


def _naive_sinkhorn(
    scores: list[list[float]], epsilon: float, iterations: int
) -> list[list[float]]:
    """Sinkhorn-Knopp in the probability domain, one element at a time."""
    rows, cols = len(scores), len(scores[0])
    q = [[math.exp(s / epsilon) for s in row] for row in scores]
    for _ in range(iterations):
        for k in range(cols):
            column = sum(q[b][k] for b in range(rows))
            for b in range(rows):
                q[b][k] /= column * cols
        for b in range(rows):
            row_sum = sum(q[b])
            q[b] = [v / (row_sum * rows) for v in q[b]]
    return [[v * rows for v in row] for row in q]


def _naive_log_softmax(row: list[float]) -> list[float]:
    top = max(row)
    log_total = top + math.log(sum(math.exp(v - top) for v in row))
    return [v - log_total for v in row]


def _naive_soft_cross_entropy(scores: Tensor, targets: Tensor, temperature: float) -> float:
    total = 0.0
    for s_row, t_row in zip(scores.tolist(), targets.tolist(), strict=True):
        log_p = _naive_log_softmax([v / temperature for v in s_row])
        total -= sum(t * lp for t, lp in zip(t_row, log_p, strict=True))
    return total / scores.shape[0]


@pytest.fixture
def scores() -> Tensor:
    g = torch.Generator().manual_seed(0)
    return torch.randn(6, 4, generator=g).tanh()  # cosine-like similarities in (-1, 1)


def test_sinkhorn_matches_naive_reference(scores: Tensor) -> None:
    expected = torch.tensor(_naive_sinkhorn(scores.tolist(), epsilon=0.5, iterations=3))
    torch.testing.assert_close(sinkhorn_knopp(scores, epsilon=0.5, iterations=3), expected)


def test_sinkhorn_rows_sum_to_one_and_prototypes_share_the_batch(scores: Tensor) -> None:
    codes = sinkhorn_knopp(scores, epsilon=0.5, iterations=100)
    batch_size, num_prototypes = scores.shape
    torch.testing.assert_close(codes.sum(dim=1), torch.ones(batch_size))
    torch.testing.assert_close(
        codes.sum(dim=0), torch.full((num_prototypes,), batch_size / num_prototypes)
    )
    assert (codes >= 0).all()


def test_sinkhorn_spreads_a_batch_that_prefers_one_prototype() -> None:
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.2], [0.7, 0.3], [0.6, 0.4]])  # all prefer 0
    codes = sinkhorn_knopp(scores, epsilon=0.05, iterations=50)
    assert codes.argmax(dim=1).tolist() == [0, 0, 1, 1]  # equipartition: two per prototype


def test_sinkhorn_survives_scores_that_would_overflow_exp() -> None:
    scores = torch.tensor([[100.0, -100.0], [-100.0, 100.0]])
    codes = sinkhorn_knopp(scores, epsilon=0.01, iterations=3)
    torch.testing.assert_close(codes, torch.eye(2))


def test_sinkhorn_blocks_gradients(scores: Tensor) -> None:
    assert not sinkhorn_knopp(scores.requires_grad_()).requires_grad


def test_soft_cross_entropy_matches_naive_reference(scores: Tensor) -> None:
    targets = sinkhorn_knopp(scores.flip(0), epsilon=0.5)
    expected = _naive_soft_cross_entropy(scores, targets, temperature=0.1)
    assert soft_cross_entropy(scores, targets, temperature=0.1).item() == pytest.approx(
        expected, rel=1e-5
    )


def test_swapped_prediction_matches_naive_reference_and_is_symmetric(scores: Tensor) -> None:
    scores_b = scores.roll(1, dims=1)
    codes_a, codes_b = sinkhorn_knopp(scores), sinkhorn_knopp(scores_b)
    expected = 0.5 * (
        _naive_soft_cross_entropy(scores, codes_b, 0.1)
        + _naive_soft_cross_entropy(scores_b, codes_a, 0.1)
    )
    forward = swapped_prediction_loss(scores, scores_b, codes_a, codes_b, temperature=0.1)
    swapped = swapped_prediction_loss(scores_b, scores, codes_b, codes_a, temperature=0.1)
    assert forward.item() == pytest.approx(expected, rel=1e-5)
    assert swapped.item() == pytest.approx(forward.item(), rel=1e-6)


def test_cluster_classification_matches_naive_reference(scores: Tensor) -> None:
    labels = torch.tensor([0, 1, 2, 3, 0, 1])
    total = 0.0
    for row, label in zip(scores.tolist(), labels.tolist(), strict=True):
        total -= _naive_log_softmax([v / 0.1 for v in row])[label]
    loss = cluster_classification_loss(scores, labels, temperature=0.1)
    assert loss.item() == pytest.approx(total / len(labels), rel=1e-5)


def test_losses_compute_in_float32_under_bf16_inputs(scores: Tensor) -> None:
    codes = sinkhorn_knopp(scores.bfloat16())
    assert codes.dtype == torch.float32
    loss = soft_cross_entropy(scores.bfloat16(), codes, temperature=0.1)
    assert loss.dtype == torch.float32


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda s: sinkhorn_knopp(s[0]), "scores"),
        (lambda s: sinkhorn_knopp(s, epsilon=0.0), "epsilon"),
        (lambda s: sinkhorn_knopp(s, iterations=0), "iterations"),
        (lambda s: soft_cross_entropy(s, s[:, :2], temperature=0.1), "targets"),
        (lambda s: soft_cross_entropy(s, s, temperature=-1.0), "temperature"),
        (lambda s: swapped_prediction_loss(s, s[:3], s, s, temperature=0.1), "scores_a"),
        (lambda s: cluster_classification_loss(s, torch.zeros(6), temperature=0.1), "int64"),
        (
            lambda s: cluster_classification_loss(s, torch.full((6,), 4), temperature=0.1),
            r"\[0, 4\)",
        ),
    ],
)
def test_invalid_arguments_raise_value_error(scores: Tensor, call: object, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        call(scores)  # type: ignore[operator]
