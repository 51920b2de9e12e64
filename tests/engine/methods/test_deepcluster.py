"""DeepCluster-specific behaviour: per-epoch k-means, pseudo-labels, their checkpoint."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import Tensor

from ssl_engine.methods.base import Batch, EpochContext
from ssl_engine.methods.deepcluster import UNASSIGNED, DeepCluster, DeepClusterHyperparameters

NUM_IMAGES = 12


def _deepcluster(num_clusters: int = 4) -> DeepCluster:
    torch.manual_seed(0)
    hparams = DeepClusterHyperparameters(num_clusters=num_clusters, projection_hidden_dim=32)
    return DeepCluster(backbone="tiny_cnn", image_size=16, hparams=hparams)


def _images() -> Tensor:
    return torch.rand(NUM_IMAGES, 3, 16, 16, generator=torch.Generator().manual_seed(1))


def _context(images: Tensor, dataset_size: int = NUM_IMAGES) -> EpochContext:
    def batches() -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(images), 5):  # uneven last batch on purpose
            yield images[start : start + 5], torch.arange(start, min(start + 5, len(images)))

    return EpochContext(0, 10, torch.device("cpu"), dataset_size, iterate_dataset=batches)


def test_epoch_start_labels_every_image_with_its_nearest_centroid() -> None:
    method = _deepcluster()
    images = _images()
    method.on_epoch_start(_context(images))
    assert method.pseudo_labels.shape == (NUM_IMAGES,)
    assert (method.pseudo_labels >= 0).all() and (method.pseudo_labels < 4).all()
    torch.testing.assert_close(method.prototypes.norm(dim=1), torch.ones(4))
    method.eval()
    with torch.no_grad():
        z = F.normalize(method.projector(method.backbone(images)), dim=1)  # (N, P)
    assert torch.equal(method.pseudo_labels, (z @ method.prototypes.T).argmax(dim=1))


def test_cluster_count_is_capped_by_the_dataset_size() -> None:
    method = _deepcluster(num_clusters=50)
    method.on_epoch_start(_context(_images()))
    assert method.pseudo_labels.max() < NUM_IMAGES
    assert int(method.num_active) == NUM_IMAGES
    assert method.prototypes.shape == (50, 128)  # the unused prototypes stay in place
    batch = Batch(images=_images()[:4], indices=torch.arange(4))
    assert torch.isfinite(method.training_step(batch).loss)  # scored against 12 only


def test_training_uses_the_stored_pseudo_labels() -> None:
    method = _deepcluster()
    method.pseudo_labels = torch.tensor([3, 2, 1, 0, UNASSIGNED])
    scores = torch.eye(4)[[0, 0, 0, 0, 2, 1]]  # (6, K); rows 4, 5 are unseen or unknown
    labels = method._labels(torch.tensor([0, 1, 2, 3, 4, 9]), scores)
    assert labels.tolist() == [3, 2, 1, 0, 2, 1]


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
    assert (method.pseudo_labels[NUM_IMAGES:] == UNASSIGNED).all()
    restored = _deepcluster()
    assert restored.pseudo_labels.shape == (0,)
    restored.load_state_dict(method.state_dict())
    assert torch.equal(restored.pseudo_labels, method.pseudo_labels)
    assert torch.equal(restored.prototypes, method.prototypes)
