"""The linear probe learns what is linearly there, and only that."""

from __future__ import annotations

import pytest
import torch

from ssl_engine.evaluation.linear_probe import linear_probe


def clusters(
    n: int, num_classes: int, dim: int, spread: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(num_classes, dim, generator=torch.Generator().manual_seed(99))
    labels = torch.arange(n) % num_classes
    return centres[labels] + spread * torch.randn(n, dim, generator=gen), labels


def test_linearly_separable_features_are_classified_perfectly() -> None:
    x_train, y_train = clusters(400, 5, 32, spread=0.5, seed=0)
    x_test, y_test = clusters(100, 5, 32, spread=0.5, seed=1)
    result = linear_probe(x_train, y_train, x_test, y_test, num_classes=5)
    assert result.top1 == 1.0 and result.train_top1 == 1.0


def test_labels_unrelated_to_the_features_give_chance_accuracy_on_held_out_data() -> None:
    gen = torch.Generator().manual_seed(2)
    x_train, x_test = torch.randn(300, 8, generator=gen), torch.randn(2000, 8, generator=gen)
    y_train = torch.randint(0, 4, (300,), generator=gen)
    y_test = torch.randint(0, 4, (2000,), generator=gen)
    result = linear_probe(x_train, y_train, x_test, y_test, num_classes=4)
    assert result.top1 == pytest.approx(0.25, abs=0.05)
    assert result.train_top1 > result.top1  # it fits noise it cannot generalise


def test_rejects_features_and_labels_that_do_not_line_up() -> None:
    with pytest.raises(ValueError, match="one label"):
        linear_probe(torch.randn(10, 4), torch.zeros(9), torch.randn(3, 4), torch.zeros(3), 2)
    with pytest.raises(ValueError, match="features"):
        linear_probe(torch.randn(10, 4), torch.zeros(10), torch.randn(3, 5), torch.zeros(3), 2)
