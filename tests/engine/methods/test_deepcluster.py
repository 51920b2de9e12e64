"""DeepCluster-specific behaviour: per-epoch k-means, pseudo-labels, their checkpoint."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_engine.methods.base import Batch, EpochContext
from ssl_engine.methods.deepcluster import UNASSIGNED, DeepCluster, DeepClusterHyperparameters

NUM_IMAGES = 12


HEADS = 3


def _deepcluster(num_clusters: int | None = 4, num_clusterings: int = HEADS) -> DeepCluster:
    torch.manual_seed(0)
    hparams = DeepClusterHyperparameters(
        num_clusters=num_clusters, num_clusterings=num_clusterings, projection_hidden_dim=32
    )
    return DeepCluster(backbone="tiny_cnn", image_size=16, hparams=hparams)


def _images() -> Tensor:
    return torch.rand(NUM_IMAGES, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _context(images: Tensor, dataset_size: int = NUM_IMAGES) -> EpochContext:
    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(images), 5):  # uneven last batch on purpose
            yield images[start : start + 5], torch.arange(start, min(start + 5, len(images)))

    return EpochContext(0, 10, torch.device("cpu"), dataset_size, iterate_dataset=batches)


def test_defaults_are_v2s_three_clusterings_with_a_size_aware_cluster_count() -> None:
    hparams = DeepClusterHyperparameters()
    assert (hparams.num_clusters, hparams.num_clusterings) == (None, 3)
    method = _deepcluster(num_clusters=None)
    assert method.clusters_for(5_000) == 500  # 10 images per cluster
    assert method.clusters_for(1_281_167) == 3000  # v2's K on ImageNet
    assert method.clusters_for(12) == 2
    assert _deepcluster(num_clusters=50).clusters_for(12) == 12  # capped by the dataset


def test_epoch_start_labels_every_image_with_its_nearest_centroid_per_clustering() -> None:
    method = _deepcluster()
    images = _images()
    method.on_epoch_start(_context(images))
    assert method.pseudo_labels.shape == (HEADS, NUM_IMAGES)
    assert (method.pseudo_labels >= 0).all() and (method.pseudo_labels < 4).all()
    torch.testing.assert_close(method.prototypes.norm(dim=2), torch.ones(HEADS, 4))
    method.eval()
    with torch.no_grad():
        z = F.normalize(method.projector(method.backbone(images)), dim=1)  # (N, P)
    for head in range(HEADS):
        nearest = (z @ method.prototypes[head].T).argmax(dim=1)  # (N,)
        assert torch.equal(method.pseudo_labels[head], nearest)


def test_cluster_count_is_capped_by_the_dataset_size() -> None:
    method = _deepcluster(num_clusters=50)
    method.on_epoch_start(_context(_images()))
    assert method.pseudo_labels.max() < NUM_IMAGES
    assert int(method.num_active) == NUM_IMAGES
    assert method.prototypes.shape == (HEADS, 50, 128)  # the unused prototypes stay in place
    batch = Batch(images=_images()[:4], indices=torch.arange(4))
    assert torch.isfinite(method.training_step(batch).loss)  # scored against 12 only


def test_training_uses_the_stored_pseudo_labels() -> None:
    method = _deepcluster(num_clusterings=2)
    method.pseudo_labels = torch.tensor([[3, 2, 1, 0, UNASSIGNED], [0, 1, 2, 3, UNASSIGNED]])
    scores = torch.eye(4)[[0, 0, 0, 0, 2, 1]]  # (6, K); rows 4, 5 are unseen or unknown
    indices = torch.tensor([0, 1, 2, 3, 4, 9])
    assert method._labels(0, indices, scores).tolist() == [3, 2, 1, 0, 2, 1]
    assert method._labels(1, indices, scores).tolist() == [0, 1, 2, 3, 2, 1]


def test_a_step_before_any_clustering_trains_on_nearest_prototypes() -> None:
    method = _deepcluster()
    batch = Batch(images=_images()[:4], indices=torch.arange(4))
    output = method.training_step(batch)
    output.loss.backward()
    assert torch.isfinite(output.loss)
    assert method.projector[0].weight.grad is not None


def test_pseudo_labels_sized_by_the_dataset_load_into_a_fresh_model() -> None:
    method = _deepcluster()
    method.on_epoch_start(_context(_images(), dataset_size=NUM_IMAGES + 3))
    assert (method.pseudo_labels[:, NUM_IMAGES:] == UNASSIGNED).all()
    restored = _deepcluster()
    assert restored.pseudo_labels.shape == (HEADS, 0)
    restored.load_state_dict(method.state_dict())
    assert torch.equal(restored.pseudo_labels, method.pseudo_labels)
    assert torch.equal(restored.prototypes, method.prototypes)


def test_a_checkpoint_with_one_clustering_loads_into_every_clustering() -> None:
    """Checkpoints and models saved before v2's three clusterings hold (K, P) prototypes
    and (N,) labels; they still load, and serve, with each clustering starting there."""
    method = _deepcluster()
    method.on_epoch_start(_context(_images()))
    old = method.state_dict()
    old["prototypes"] = method.prototypes[0].clone()  # (K, P)
    old["pseudo_labels"] = method.pseudo_labels[0].clone()  # (N,)
    restored = _deepcluster()
    restored.load_state_dict(old)
    for head in range(HEADS):
        assert torch.equal(restored.prototypes[head], old["prototypes"])
        assert torch.equal(restored.pseudo_labels[head], old["pseudo_labels"])
    batch = Batch(images=_images()[:4], indices=torch.arange(4))
    assert torch.isfinite(restored.training_step(batch).loss)
