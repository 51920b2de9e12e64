"""MoCo's queue InfoNCE against a naive, loop-based reference."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ssl_engine.losses.infonce_queue import infonce_queue_logits, infonce_queue_loss


def _unit(v: list[float]) -> list[float]:
    norm = math.sqrt(sum(x * x for x in v))
    return [x / norm for x in v]


def _naive_loss(query: Tensor, key: Tensor, queue: Tensor, temperature: float) -> float:
    negatives = [_unit(n) for n in queue.tolist()]
    total = 0.0
    for q_row, k_row in zip(query.tolist(), key.tolist(), strict=True):
        q, k = _unit(q_row), _unit(k_row)
        positive = sum(a * b for a, b in zip(q, k, strict=True)) / temperature
        scores = [positive] + [
            sum(a * b for a, b in zip(q, n, strict=True)) / temperature for n in negatives
        ]
        total += -positive + math.log(sum(math.exp(s) for s in scores))
    return total / len(query)


@pytest.fixture
def inputs() -> tuple[Tensor, Tensor, Tensor]:
    g = torch.Generator().manual_seed(2)
    query = torch.randn(5, 8, generator=g, dtype=torch.float64)
    key = query + 0.3 * torch.randn(5, 8, generator=g, dtype=torch.float64)
    queue = torch.randn(11, 8, generator=g, dtype=torch.float64)
    return query, key, queue


@pytest.mark.parametrize("temperature", [0.07, 0.2, 1.0])
def test_loss_matches_naive_reference(
    inputs: tuple[Tensor, Tensor, Tensor], temperature: float
) -> None:
    expected = _naive_loss(*inputs, temperature)
    assert infonce_queue_loss(*inputs, temperature).item() == pytest.approx(expected)


def test_logits_put_the_positive_first_and_label_it(inputs: tuple[Tensor, Tensor, Tensor]) -> None:
    query, key, queue = inputs
    logits, labels = infonce_queue_logits(query, key, queue, temperature=0.5)
    assert logits.shape == (5, 12)
    assert labels.tolist() == [0] * 5
    cos = torch.nn.functional.cosine_similarity(query, key, dim=1)
    torch.testing.assert_close(logits[:, 0], cos / 0.5)


def test_loss_is_zero_without_negatives_in_either_direction(
    inputs: tuple[Tensor, Tensor, Tensor],
) -> None:
    # The queue loss is not symmetric in general (negatives only face the query), but with
    # an empty queue the positive is the only candidate: log(1) = 0 both ways.
    query, key, _ = inputs
    empty = torch.zeros(0, 8, dtype=torch.float64)
    assert infonce_queue_loss(query, key, empty, 0.2).item() == pytest.approx(0.0)
    assert infonce_queue_loss(key, query, empty, 0.2).item() == pytest.approx(0.0)


def test_loss_is_log_of_candidates_when_all_similarities_tie() -> None:
    query = torch.tensor([[1.0, 0.0, 0.0]])
    key = torch.tensor([[0.0, 1.0, 0.0]])
    queue = torch.tensor([[0.0, 0.0, 1.0], [0.0, -1.0, 0.0]])  # all orthogonal to query
    assert infonce_queue_loss(query, key, queue, 0.1).item() == pytest.approx(math.log(3))


def test_loss_is_lower_when_the_key_matches(inputs: tuple[Tensor, Tensor, Tensor]) -> None:
    query, _, queue = inputs
    assert infonce_queue_loss(query, query, queue, 0.2) < infonce_queue_loss(
        query, -query, queue, 0.2
    )


@pytest.mark.parametrize(
    ("query", "key", "queue", "temperature", "message"),
    [
        (torch.zeros(4, 3), torch.zeros(4, 2), torch.zeros(5, 3), 0.2, "query and key"),
        (torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(5, 2), 0.2, "queue"),
        (torch.zeros(4, 3), torch.zeros(4, 3), torch.zeros(5, 3), 0.0, "temperature"),
    ],
)
def test_invalid_arguments_raise_value_error(
    query: Tensor, key: Tensor, queue: Tensor, temperature: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        infonce_queue_loss(query, key, queue, temperature)
