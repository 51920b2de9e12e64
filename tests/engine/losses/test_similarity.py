"""BYOL's and SimSiam's regression losses against naive, loop-based references."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ssl_engine.losses.similarity import negative_cosine_similarity, normalized_mse


def _naive_cosines(p: Tensor, z: Tensor) -> list[float]:
    cosines = []
    for a, b in zip(p.tolist(), z.tolist(), strict=True):
        dot = sum(x * y for x, y in zip(a, b, strict=True))
        norms = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
        cosines.append(dot / norms)
    return cosines


@pytest.fixture
def pair() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(1)
    return torch.randn(6, 4, generator=g), torch.randn(6, 4, generator=g)


def test_negative_cosine_similarity_matches_naive_reference(pair: tuple[Tensor, Tensor]) -> None:
    cosines = _naive_cosines(*pair)
    expected = -sum(cosines) / len(cosines)
    assert negative_cosine_similarity(*pair).item() == pytest.approx(expected, abs=1e-6)


def test_normalized_mse_matches_naive_reference(pair: tuple[Tensor, Tensor]) -> None:
    p, z = pair
    total = 0.0
    for a, b in zip(p.tolist(), z.tolist(), strict=True):
        na, nb = math.sqrt(sum(x * x for x in a)), math.sqrt(sum(y * y for y in b))
        total += sum((x / na - y / nb) ** 2 for x, y in zip(a, b, strict=True))
    assert normalized_mse(p, z).item() == pytest.approx(total / len(p), abs=1e-6)


def test_losses_are_symmetric_in_their_values(pair: tuple[Tensor, Tensor]) -> None:
    p, z = pair
    assert negative_cosine_similarity(p, z).item() == pytest.approx(
        negative_cosine_similarity(z, p).item()
    )
    assert normalized_mse(p, z).item() == pytest.approx(normalized_mse(z, p).item())


def test_losses_reach_their_minimum_for_parallel_vectors(pair: tuple[Tensor, Tensor]) -> None:
    p = pair[0]
    assert negative_cosine_similarity(p, 3 * p).item() == pytest.approx(-1.0, abs=1e-6)
    assert normalized_mse(p, 3 * p).item() == pytest.approx(0.0, abs=1e-6)


def test_losses_do_not_detach_the_target(pair: tuple[Tensor, Tensor]) -> None:
    p, z = (t.clone().requires_grad_() for t in pair)
    (negative_cosine_similarity(p, z) + normalized_mse(p, z)).backward()
    assert z.grad is not None and z.grad.abs().sum() > 0


@pytest.mark.parametrize("loss", [negative_cosine_similarity, normalized_mse])
@pytest.mark.parametrize(
    ("p", "z"),
    [
        (torch.zeros(4, 3), torch.zeros(4, 2)),
        (torch.zeros(4), torch.zeros(4)),
        (torch.zeros(0, 3), torch.zeros(0, 3)),
    ],
)
def test_invalid_shapes_raise_value_error(loss: object, p: Tensor, z: Tensor) -> None:
    with pytest.raises(ValueError, match="p and z"):
        loss(p, z)  # type: ignore[operator]
