"""Reconstruction errors against naive, loop-based references."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor

from ssl_engine.losses.reconstruction import masked_patch_mse, per_sample_mse


@pytest.fixture
def patches() -> tuple[Tensor, Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randn(3, 5, 4, generator=g), torch.rand(3, 5, 4, generator=g)


def _naive_masked_mse(
    prediction: Tensor, target: Tensor, mask: Tensor, normalize_target: bool
) -> list[float]:
    losses = []
    for pred_sample, target_sample, mask_sample in zip(
        prediction.tolist(), target.tolist(), mask.tolist(), strict=True
    ):
        total, count = 0.0, 0
        for pred_patch, target_patch, hidden in zip(
            pred_sample, target_sample, mask_sample, strict=True
        ):
            if not hidden:
                continue
            if normalize_target:
                mean = sum(target_patch) / len(target_patch)
                var = sum((v - mean) ** 2 for v in target_patch) / len(target_patch)
                target_patch = [(v - mean) / math.sqrt(var + 1e-6) for v in target_patch]
            squared = [(p - t) ** 2 for p, t in zip(pred_patch, target_patch, strict=True)]
            total += sum(squared) / len(squared)
            count += 1
        losses.append(total / count)
    return losses


def test_per_sample_mse_matches_naive_reference() -> None:
    g = torch.Generator().manual_seed(1)
    prediction, target = torch.rand(2, 3, 2, 2, generator=g), torch.rand(2, 3, 2, 2, generator=g)
    expected = []
    for p, t in zip(prediction.flatten(1).tolist(), target.flatten(1).tolist(), strict=True):
        expected.append(sum((a - b) ** 2 for a, b in zip(p, t, strict=True)) / len(p))
    torch.testing.assert_close(per_sample_mse(prediction, target), torch.tensor(expected))


def test_per_sample_mse_is_symmetric_and_zero_on_identical_inputs() -> None:
    a, b = torch.rand(4, 3, 2, 2), torch.rand(4, 3, 2, 2)
    torch.testing.assert_close(per_sample_mse(a, b), per_sample_mse(b, a))
    torch.testing.assert_close(per_sample_mse(a, a), torch.zeros(4))


@pytest.mark.parametrize("normalize_target", [False, True])
def test_masked_patch_mse_matches_naive_reference(
    patches: tuple[Tensor, Tensor], normalize_target: bool
) -> None:
    mask = torch.tensor([[1, 0, 1, 0, 0], [0, 0, 0, 0, 1], [1, 1, 1, 1, 1]], dtype=torch.bool)
    expected = torch.tensor(_naive_masked_mse(*patches, mask, normalize_target))
    actual = masked_patch_mse(*patches, mask, normalize_target=normalize_target)
    torch.testing.assert_close(actual, expected)


def test_masked_patch_mse_ignores_visible_patches(patches: tuple[Tensor, Tensor]) -> None:
    prediction, target = patches
    mask = torch.tensor([[1, 0, 0, 0, 0]] * 3, dtype=torch.bool)
    wrong_elsewhere = prediction.clone()
    wrong_elsewhere[:, 1:] += 100.0  # only visible patches change
    torch.testing.assert_close(
        masked_patch_mse(wrong_elsewhere, target, mask), masked_patch_mse(prediction, target, mask)
    )


@pytest.mark.parametrize(
    ("prediction", "target", "mask", "match"),
    [
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 5), torch.ones(2, 3), "prediction and target"),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.ones(2, 4), "mask must be"),
        (torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), torch.tensor([[1, 0, 0], [0, 0, 0]]), "hide"),
    ],
)
def test_masked_patch_mse_rejects_invalid_arguments(
    prediction: Tensor, target: Tensor, mask: Tensor, match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        masked_patch_mse(prediction, target, mask)


def test_per_sample_mse_rejects_mismatched_shapes() -> None:
    with pytest.raises(ValueError, match="prediction and target"):
        per_sample_mse(torch.zeros(2, 3), torch.zeros(2, 4))
