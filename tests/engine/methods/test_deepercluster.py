"""DeeperCluster-specific behaviour: hierarchical pseudo-labels, when they are recomputed,
rotation and cluster targets, and their checkpoint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch import Tensor

from ssl_engine.methods.base import Batch, EpochContext
from ssl_engine.methods.deepcluster import UNASSIGNED
from ssl_engine.methods.deepercluster import DeeperCluster, DeeperClusterHyperparameters

NUM_IMAGES = 24


def _method(**hparams: object) -> DeeperCluster:
    torch.manual_seed(0)
    settings = DeeperClusterHyperparameters.model_validate({"num_clusters": 6, **hparams})
    return DeeperCluster(backbone="tiny_cnn", image_size=16, hparams=settings)


def _images() -> Tensor:
    return torch.rand(NUM_IMAGES, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _context(epoch: int, images: Tensor | None = None) -> EpochContext:
    data = _images() if images is None else images

    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(data), 10):  # uneven last batch on purpose
            yield data[start : start + 10], torch.arange(start, min(start + 10, len(data)))

    return EpochContext(epoch, 10, torch.device("cpu"), len(data), iterate_dataset=batches)


def test_two_level_clustering_labels_every_image() -> None:
    method = _method(num_super_clusters=2)
    method.on_epoch_start(_context(0))
    supers, subs = method.pseudo_labels
    assert method.pseudo_labels.shape == (2, NUM_IMAGES)
    assert set(supers.tolist()) == {0, 1}
    active = method.sub_clusters_active  # 6 clusters in all: 3 per super-cluster
    assert active.tolist() == [3, 3]
    assert ((subs >= 0) & (subs < active[supers])).all()
    assert method.super_classifier.out_features == 2 * 4  # (super-cluster, rotation)
    assert method.sub_weight.shape[:2] == (8, 3)


def test_clusters_are_recomputed_every_few_epochs_with_fresh_sub_classifiers() -> None:
    method = _method(recluster_every_epochs=3)
    method.on_epoch_start(_context(0))
    labels, weights = method.pseudo_labels.clone(), method.sub_weight.detach().clone()
    rotation_head = method.super_classifier.weight.detach().clone()
    for epoch in (0, 1, 2):  # the same epoch again (a resumed run) and epochs not due
        method.on_epoch_start(_context(epoch))
        assert torch.equal(method.sub_weight, weights), epoch
    assert int(method.clustered_epoch) == 0
    method.on_epoch_start(_context(3))
    assert int(method.clustered_epoch) == 3
    assert method.pseudo_labels.shape == labels.shape
    assert not torch.equal(method.sub_weight, weights)
    # With one super-cluster the super-classes are the rotations: that classifier stays.
    assert torch.equal(method.super_classifier.weight, rotation_head)


def test_a_dataset_of_another_size_is_clustered_at_once() -> None:
    method = _method(recluster_every_epochs=3)
    method.on_epoch_start(_context(0))
    method.on_epoch_start(_context(1, _images()[:20]))
    assert method.pseudo_labels.shape == (2, 20)


def test_targets_are_the_rotation_and_the_stored_cluster() -> None:
    method = _method(num_super_clusters=2)
    method.pseudo_labels = torch.tensor([[1, 0, 1, 0], [2, 0, 1, UNASSIGNED]])
    supers, subs = method._targets(torch.tensor([0, 1, 2, 3, 7]))
    assert supers.tolist() == [1, 0, 1, 0, 0]  # unknown super-cluster: 0
    assert subs.tolist() == [2, 0, 1, UNASSIGNED, UNASSIGNED]


def test_without_rotation_one_super_cluster_leaves_only_the_cluster_loss() -> None:
    method = _method(predict_rotation=False)
    method.on_epoch_start(_context(0))
    output = method.training_step(Batch(images=_images()[:8], indices=torch.arange(8)))
    assert method.super_classifier.out_features == 1
    assert output.metrics["loss_super_class"] == pytest.approx(0.0)
    assert output.metrics["loss_sub_class"] > 0
    assert output.loss.item() == pytest.approx(output.metrics["loss_sub_class"])


def test_the_rotation_classifier_learns_the_turns() -> None:
    """A network that sees each image at a random quarter turn can tell which one: the
    super-class loss (rotation only, one super-cluster) falls well below chance, log 4."""
    images = _images() * 0.5
    images[:, :, :4] += 0.5  # a bright band at the top: upright is recognisable
    method = _method()
    method.on_epoch_start(_context(0, images))
    optimizer = torch.optim.Adam(method.parameters(), lr=3e-3)
    losses = []
    for _ in range(60):
        output = method.training_step(Batch(images=images, indices=torch.arange(NUM_IMAGES)))
        optimizer.zero_grad()
        output.loss.backward()
        optimizer.step()
        losses.append(output.metrics["loss_super_class"])
    assert sum(losses[-10:]) / 10 < 0.7 * torch.log(torch.tensor(4.0)).item()


def test_a_checkpoint_restores_the_labels_and_skips_the_clustering_until_due() -> None:
    method = _method(recluster_every_epochs=3)
    method.on_epoch_start(_context(0))
    restored = _method(recluster_every_epochs=3)
    restored.load_state_dict(method.state_dict())
    assert torch.equal(restored.pseudo_labels, method.pseudo_labels)
    weights = restored.sub_weight.detach().clone()
    restored.on_epoch_start(_context(1))  # resumed at epoch 1: keeps the stored targets
    assert torch.equal(restored.sub_weight, weights)
    assert torch.equal(restored.pseudo_labels, method.pseudo_labels)
