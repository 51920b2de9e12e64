"""The ELBO terms against naive, loop-based references."""

from __future__ import annotations

import math

import pytest
import torch

from ssl_engine.losses.variational import bernoulli_nll, gaussian_kl_to_standard_normal


def test_kl_matches_naive_reference() -> None:
    g = torch.Generator().manual_seed(0)
    mu, logvar = torch.randn(3, 4, generator=g), torch.randn(3, 4, generator=g)
    expected = []
    for m_row, lv_row in zip(mu.tolist(), logvar.tolist(), strict=True):
        expected.append(
            sum(0.5 * (m * m + math.exp(lv) - 1 - lv) for m, lv in zip(m_row, lv_row, strict=True))
        )
    torch.testing.assert_close(gaussian_kl_to_standard_normal(mu, logvar), torch.tensor(expected))


def test_kl_is_zero_for_a_standard_normal_posterior_and_positive_otherwise() -> None:
    zeros = torch.zeros(2, 5)
    torch.testing.assert_close(gaussian_kl_to_standard_normal(zeros, zeros), torch.zeros(2))
    shifted = gaussian_kl_to_standard_normal(torch.full((2, 5), 0.1), zeros)
    assert (shifted > 0).all()


def test_bernoulli_nll_matches_naive_reference() -> None:
    g = torch.Generator().manual_seed(1)
    logits, target = torch.randn(2, 3, 2, 2, generator=g), torch.rand(2, 3, 2, 2, generator=g)
    expected = []
    for l_row, t_row in zip(logits.flatten(1).tolist(), target.flatten(1).tolist(), strict=True):
        total = 0.0
        for logit, t in zip(l_row, t_row, strict=True):
            p = 1 / (1 + math.exp(-logit))
            total -= t * math.log(p) + (1 - t) * math.log(1 - p)
        expected.append(total)
    torch.testing.assert_close(bernoulli_nll(logits, target), torch.tensor(expected))


def test_bernoulli_nll_prefers_the_matching_image() -> None:
    g = torch.Generator().manual_seed(2)
    image, other = torch.rand(1, 3, 4, 4, generator=g), torch.rand(1, 3, 4, 4, generator=g)
    logits = torch.logit(image.clamp(0.01, 0.99))
    assert bernoulli_nll(logits, image).item() < bernoulli_nll(logits, other).item()


@pytest.mark.parametrize(
    "call",
    [
        lambda: gaussian_kl_to_standard_normal(torch.zeros(2, 3), torch.zeros(2, 4)),
        lambda: gaussian_kl_to_standard_normal(torch.zeros(3), torch.zeros(3)),
        lambda: bernoulli_nll(torch.zeros(2, 3), torch.zeros(3, 3)),
    ],
)
def test_invalid_shapes_raise_value_error(call: object) -> None:
    with pytest.raises(ValueError, match="must"):
        call()  # type: ignore[operator]
