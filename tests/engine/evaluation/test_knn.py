"""Weighted kNN against a deliberately naive reference: loops, sorting, a dict of votes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ssl_engine.evaluation.knn import knn_class_scores, knn_top1


def brute_force_scores(
    query: Tensor, bank: Tensor, labels: Tensor, num_classes: int, k: int, t: float
) -> list[list[float]]:
    """Per query: cosine to every bank row, the k largest, exp(s / t) summed per class."""
    out = []
    for q in query.tolist():
        similarities = []
        for row, label in zip(bank.tolist(), labels.tolist(), strict=True):
            dot = sum(a * b for a, b in zip(q, row, strict=True))
            norms = math.sqrt(sum(a * a for a in q)) * math.sqrt(sum(b * b for b in row))
            similarities.append((dot / norms, label))
        similarities.sort(key=lambda pair: pair[0], reverse=True)
        votes = [0.0] * num_classes
        for similarity, label in similarities[:k]:
            votes[label] += math.exp(similarity / t)
        out.append(votes)
    return out


@pytest.mark.parametrize(("k", "t"), [(1, 0.1), (7, 0.1), (200, 0.1), (15, 0.5)])
def test_scores_match_the_brute_force_reference(k: int, t: float) -> None:
    gen = torch.Generator().manual_seed(k)
    query, bank = torch.randn(13, 6, generator=gen), torch.randn(40, 6, generator=gen)
    labels = torch.randint(0, 5, (40,), generator=gen)
    scores = knn_class_scores(query, bank, labels, num_classes=5, k=k, temperature=t)
    expected = torch.tensor(brute_force_scores(query, bank, labels, 5, k, t))
    torch.testing.assert_close(scores, expected, rtol=1e-4, atol=1e-4)


def test_top1_is_the_share_of_queries_whose_best_class_is_their_label() -> None:
    gen = torch.Generator().manual_seed(0)
    query, bank = torch.randn(50, 8, generator=gen), torch.randn(120, 8, generator=gen)
    bank_labels = torch.randint(0, 3, (120,), generator=gen)
    query_labels = torch.randint(0, 3, (50,), generator=gen)
    reference = brute_force_scores(query, bank, bank_labels, 3, 20, 0.1)
    predicted = [votes.index(max(votes)) for votes in reference]
    hits = sum(p == y for p, y in zip(predicted, query_labels.tolist(), strict=True))
    top1 = knn_top1(query, query_labels, bank, bank_labels, 3, k=20)
    assert top1 == pytest.approx(hits / 50)


def test_well_separated_clusters_are_classified_perfectly_and_scale_does_not_matter() -> None:
    centres = 10 * torch.eye(4)  # (4, 4) one direction per class
    gen = torch.Generator().manual_seed(1)
    bank_labels, query_labels = torch.arange(80) % 4, torch.arange(20) % 4
    bank = centres[bank_labels] + torch.randn(80, 4, generator=gen)
    query = 1e-3 * (centres[query_labels] + torch.randn(20, 4, generator=gen))  # cosine: scale-free
    assert knn_top1(query, query_labels, bank, bank_labels, num_classes=4) == 1.0


def test_rejects_mismatched_shapes_and_bad_parameters() -> None:
    bank, labels = torch.randn(10, 4), torch.zeros(10, dtype=torch.long)
    with pytest.raises(ValueError, match="query and bank"):
        knn_class_scores(torch.randn(3, 5), bank, labels, 2)
    with pytest.raises(ValueError, match="bank_labels"):
        knn_class_scores(torch.randn(3, 4), bank, labels[:9], 2)
    with pytest.raises(ValueError, match="temperature"):
        knn_class_scores(torch.randn(3, 4), bank, labels, 2, temperature=0.0)
