"""NT-Xent against a literal transcription of SimCLR's eq. (1)."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_engine.losses.contrastive import nt_xent_loss


def naive_nt_xent(z_a: torch.Tensor, z_b: torch.Tensor, temperature: float) -> float:
    """Chen et al. 2020, eq. (1), one anchor at a time, averaged over the 2B anchors."""
    z = [*z_a.tolist(), *z_b.tolist()]
    n, b = len(z), len(z_a)

    def cosine(u: list[float], v: list[float]) -> float:
        dot = sum(x * y for x, y in zip(u, v, strict=True))
        return dot / (math.sqrt(sum(x * x for x in u)) * math.sqrt(sum(y * y for y in v)))

    total = 0.0
    for i in range(n):
        positive = (i + b) % n
        numerator = math.exp(cosine(z[i], z[positive]) / temperature)
        denominator = sum(math.exp(cosine(z[i], z[k]) / temperature) for k in range(n) if k != i)
        total += -math.log(numerator / denominator)
    return total / n


@pytest.mark.parametrize("temperature", [0.1, 0.5, 2.0])
def test_matches_the_papers_formula_computed_anchor_by_anchor(temperature: float) -> None:
    gen = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(6, 5, generator=gen), torch.randn(6, 5, generator=gen)
    loss = nt_xent_loss(z_a, z_b, temperature)
    assert loss.item() == pytest.approx(naive_nt_xent(z_a, z_b, temperature), rel=1e-5)


def test_is_symmetric_in_the_two_views() -> None:
    gen = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(8, 16, generator=gen), torch.randn(8, 16, generator=gen)
    torch.testing.assert_close(nt_xent_loss(z_a, z_b, 0.5), nt_xent_loss(z_b, z_a, 0.5))


def test_aligned_views_score_lower_than_unrelated_ones() -> None:
    gen = torch.Generator().manual_seed(2)
    z_a = torch.randn(16, 32, generator=gen)
    aligned = nt_xent_loss(z_a, z_a + 0.01 * torch.randn(16, 32, generator=gen), 0.5)
    unrelated = nt_xent_loss(z_a, torch.randn(16, 32, generator=gen), 0.5)
    assert aligned < unrelated - 1.0


def test_is_float32_under_bf16_autocast_and_has_gradients() -> None:
    z_a = torch.randn(4, 8, requires_grad=True)
    z_b = torch.randn(4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = nt_xent_loss(z_a.bfloat16(), z_b.bfloat16(), 0.1)
    assert loss.dtype == torch.float32
    loss.backward()
    assert z_a.grad is not None and torch.isfinite(z_a.grad).all()


@pytest.mark.parametrize(
    ("z_a", "z_b", "temperature", "message"),
    [
        (torch.randn(4, 8), torch.randn(4, 7), 0.5, "same shape"),
        (torch.randn(4), torch.randn(4), 0.5, r"\(B, D\)"),
        (torch.randn(1, 8), torch.randn(1, 8), 0.5, "at least 2"),
        (torch.randn(4, 8), torch.randn(4, 8), 0.0, "temperature"),
        (torch.randn(4, 8), torch.randn(4, 8), float("nan"), "temperature"),
    ],
)
def test_rejects_bad_arguments(
    z_a: torch.Tensor, z_b: torch.Tensor, temperature: float, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        nt_xent_loss(z_a, z_b, temperature)
