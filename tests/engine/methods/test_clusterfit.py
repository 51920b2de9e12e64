"""ClusterFit: labels come from the parent's features once, the child learns them from
scratch, and the parent never becomes part of the child."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor

from ssl_engine.factory import build_method
from ssl_engine.methods.base import Batch, EpochContext, Method
from ssl_engine.methods.clusterfit import ClusterFit
from ssl_engine.recipe import Recipe

SIZE = 16


class ColourParent(Method):
    """A 'trained' parent whose features are the mean colour: red and blue images fall
    in two perfectly separated groups."""

    def __init__(self) -> None:
        super().__init__()
        self.input_size = SIZE
        self.embed_dim = 3

    def embed(self, x: Tensor) -> Tensor:
        return x.mean(dim=(2, 3)) - 0.5  # (B, 3)


def _two_colours(n: int = 32) -> tuple[Tensor, Tensor]:
    """Half reddish, half bluish noisy images; (N, 3, S, S) and their class (N,)."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(n, 3, SIZE, SIZE, generator=generator) * 0.4
    classes = torch.arange(n) % 2
    images[classes == 0, 0] += 0.6  # red channel
    images[classes == 1, 2] += 0.6  # blue channel
    return images, classes


def _context(images: Tensor) -> EpochContext:
    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(images), 10):
            yield images[start : start + 10], torch.arange(start, min(start + 10, len(images)))

    return EpochContext(0, 1, torch.device("cpu"), len(images), iterate_dataset=batches)


def _clusterfit() -> ClusterFit:
    torch.manual_seed(0)
    method = build_method(Recipe("clusterfit", "tiny_cnn", SIZE, {"num_clusters": 2}))
    assert isinstance(method, ClusterFit)
    return method


def _agreement(predicted: Tensor, classes: Tensor) -> float:
    """Share of items whose cluster is their class, under the better of the two namings."""
    same = (predicted == classes).float().mean().item()
    return max(same, 1.0 - same)


def test_the_child_learns_the_groups_the_parents_features_make() -> None:
    images, classes = _two_colours()
    method = _clusterfit()
    method.start_from_parent(ColourParent())
    method.on_epoch_start(_context(images))
    assert _agreement(method.pseudo_labels, classes) == 1.0
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    for _ in range(40):
        output = method.training_step(Batch(images=images, indices=torch.arange(len(images))))
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
    method.eval()
    with torch.no_grad():
        predicted = method.classifier(method.embed(images))[:, :2].argmax(dim=1)
    assert _agreement(predicted, classes) >= 0.95


def test_the_parent_labels_once_and_is_never_part_of_the_child() -> None:
    images, _ = _two_colours()
    method = _clusterfit()
    before = set(method.state_dict())
    method.start_from_parent(ColourParent())
    method.on_epoch_start(_context(images))
    labels = method.pseudo_labels.clone()
    assert set(method.state_dict()) == before  # the labels buffer, no parent weights
    method.on_epoch_start(_context(images))  # the next epoch keeps them, parent or not
    assert torch.equal(method.pseudo_labels, labels)

    restored = _clusterfit()
    restored.load_state_dict(method.state_dict())  # a resumed run: no parent needed
    restored.on_epoch_start(_context(images))
    assert torch.equal(restored.pseudo_labels, labels)


def test_without_a_parent_the_first_epoch_says_what_is_missing() -> None:
    with pytest.raises(RuntimeError, match="parent model"):
        _clusterfit().on_epoch_start(_context(_two_colours()[0]))


def test_the_default_cluster_count_keeps_the_papers_80_images_per_cluster() -> None:
    method = build_method(Recipe("clusterfit", "tiny_cnn", SIZE))
    assert isinstance(method, ClusterFit)
    assert method.clusters_for(5_000) == 62
    assert method.clusters_for(1_281_167) == 3_000  # the default's ceiling
    assert method.clusters_for(100) == 2
