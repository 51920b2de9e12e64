"""PCA whitening: every kept direction ends up with the same share of the variance."""

from __future__ import annotations

import pytest
import torch

from ssl_engine.pca import pca_whiten


def _anisotropic(n: int = 4000) -> torch.Tensor:
    generator = torch.Generator().manual_seed(0)
    scales = torch.tensor([100.0, 10.0, 1.0, 0.1])
    rotation, _ = torch.linalg.qr(torch.randn(4, 4, generator=generator))
    return (torch.randn(n, 4, generator=generator) * scales) @ rotation.T + 5.0  # (N, 4)


def test_whitened_rows_are_unit_vectors_spread_evenly_over_the_axes() -> None:
    z = pca_whiten(_anisotropic(), dim=4)
    assert z.shape == (4000, 4) and z.dtype == torch.float32
    torch.testing.assert_close(z.norm(dim=1), torch.ones(4000))
    # Unwhitened, the first axis would hold almost all the squared length.
    torch.testing.assert_close(z.pow(2).mean(dim=0), torch.full((4,), 0.25), atol=0.02, rtol=0)


def test_dim_keeps_the_leading_axes_and_is_capped_by_the_width() -> None:
    x = _anisotropic()
    assert pca_whiten(x, dim=2).shape == (4000, 2)
    assert pca_whiten(x, dim=256).shape == (4000, 4)
    with pytest.raises(ValueError):
        pca_whiten(x, dim=0)
