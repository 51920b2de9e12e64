"""ClusterFit: cluster a trained model's features, then train a fresh network on the ids.

Yan, Misra, Gupta, Ghadiyaram and Mahajan, "ClusterFit: Improving Generalization of
Visual Representations", CVPR 2020 (arXiv:1912.03330). A pretrained network (here: the
job's parent model, trained with any method) embeds every image; k-means groups the
embeddings into K clusters; a new network, trained from scratch, learns to classify each
image into its cluster. The clustering keeps what the parent knows about which images
belong together and drops what over-fits its pretext task, so the child transfers
better than the parent (the paper: RotNet 48.2 -> 53.6 ImageNet linear top-1).

Energy view: a joint-embedding method whose collapse is prevented by clustering: the
targets are fixed k-means ids, which a constant encoder cannot predict. E(x, y) is the
cosine distance of the backbone features, as for the other joint-embedding methods.

    first epoch start: every image -> parent.embed -> (N, D') -> L2-normalised -> k-means
                       -> labels (N,), kept as a buffer; the parent is not used again
    each step:         1 view -> backbone -> h (B, D) -> linear (B, K) -> CE(label)

The parent is never part of the child's weights: the labels are, so a resumed run or a
served model never needs it. Recipe as VISSL's (``clusterfit_resnet_8gpu_imagenet.yaml``
and ``cluster_features_resnet_8gpu_rotation_in1k.yaml``): 50 k-means iterations, a
linear head on the pooled features, SGD 0.1 per 256 images, momentum 0.9, weight decay
1e-4, a warm-up of 5 of its 105 epochs; its step schedule is the cosine every method
here uses; its 16,000 clusters for ImageNet become 80 images per cluster (at most 3,000
by default), and the k-means is spherical (cosine), as the kNN evaluation compares
features.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ssl_engine.augment import ViewAugment
from ssl_engine.augment.presets import clusterfit_config
from ssl_engine.kmeans import spherical_kmeans
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    EpochContext,
    Hyperparameters,
    Method,
    OptimizerDefaults,
    ParentRole,
    StepOutput,
)
from ssl_engine.methods.deepcluster import (
    DEFAULT_MAX_CLUSTERS,
    MAX_CLUSTERS,
    UNASSIGNED,
    cluster_count,
    labels_sized_like_checkpoint,
)
from ssl_engine.methods.joint_embedding import JointEmbeddingMethod

# The paper's 16,000 clusters of ImageNet's 1.28 M images: 80 images per cluster.
IMAGES_PER_CLUSTER = 80


class ClusterFitHyperparameters(Hyperparameters):
    """ClusterFit's knobs: the number of clusters and the k-means effort."""

    num_clusters: int | None = Field(
        None,
        ge=2,
        le=MAX_CLUSTERS,
        description=(
            "k of k-means over the parent's features; None: min(3000, dataset size / 80), "
            "the paper's 80 images per cluster (16,000 for ImageNet's 1.28 M images; set "
            "it for more than 3,000). Capped at the dataset size."
        ),
    )
    kmeans_iterations: int = Field(
        50, ge=1, le=1000, description="Lloyd iterations of the one clustering (VISSL: 50)."
    )


class ClusterFit(JointEmbeddingMethod):
    """A fresh backbone + a linear classifier over the clusters of a parent's features."""

    name = "clusterfit"
    collapse_prevention = CollapsePrevention.CLUSTERING
    parent_role = ParentRole.TEACHER
    summary = (
        "Clusters the features of a parent model (parent_model_id, any method) with "
        "k-means once, then trains a new network from scratch to predict each image's "
        "cluster (ClusterFit)."
    )
    paper = (
        "Yan, Misra, Gupta, Ghadiyaram, Mahajan. ClusterFit: Improving Generalization of "
        "Visual Representations. CVPR 2020. arXiv:1912.03330"
    )
    hyperparameters_model = ClusterFitHyperparameters
    optimizer_defaults = OptimizerDefaults(
        name="sgd",
        lr=0.1,
        weight_decay=1e-4,
        warmup_fraction=0.048,
        source="VISSL configs/config/pretrain/clusterfit/clusterfit_resnet_8gpu_imagenet.yaml: "
        "SGD lr 0.1 per 256, momentum 0.9, wd 1e-4, linear warm-up 5 of 105 epochs",
    )

    pseudo_labels: Tensor
    num_active: Tensor

    def __init__(
        self, *, backbone: str, image_size: int, hparams: ClusterFitHyperparameters
    ) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        most = hparams.num_clusters or DEFAULT_MAX_CLUSTERS
        self.classifier = nn.Linear(self.embed_dim, most)  # rows past num_active unused
        self.register_buffer("pseudo_labels", torch.empty(0, dtype=torch.long))  # (N,)
        self.register_buffer("num_active", torch.tensor(most))
        self.register_load_state_dict_pre_hook(labels_sized_like_checkpoint)
        self.augment = ViewAugment(clusterfit_config(image_size))
        self._teacher: list[Method] = []  # a list: the parent must not become a submodule

    def start_from_parent(self, parent: Method) -> None:
        """Keep the parent to label the data at the first epoch start; no weight is copied."""
        self._teacher[:] = [parent.eval()]

    def clusters_for(self, dataset_size: int) -> int:
        return cluster_count(
            self.hparams.num_clusters, dataset_size, per_cluster=IMAGES_PER_CLUSTER
        )

    @torch.no_grad()
    def on_epoch_start(self, context: EpochContext) -> None:
        """Once (labels are kept, also across a resume): k-means on the parent's features."""
        if self.pseudo_labels.shape[0] == context.dataset_size:
            self._teacher.clear()  # labelled already (a resumed run): the parent can go
            return
        if not self._teacher:
            raise RuntimeError(
                "ClusterFit needs a parent model (parent_model_id) to label the data"
            )
        teacher = self._teacher[0].to(context.device)
        features, positions = [], []
        for images, indices in context.iterate_dataset():
            if images.shape[-1] != teacher.input_size:  # the parent sees its own image size
                images = F.interpolate(images, size=teacher.input_size, mode="bilinear")
            features.append(teacher.embed(images).float())  # (b, D')
            positions.append(indices)  # (b,)
        z = torch.cat(features)  # (N, D')
        rows = torch.cat(positions).to(z.device)  # (N,)
        clusters = self.clusters_for(len(z))
        result = spherical_kmeans(z, clusters, iterations=self.hparams.kmeans_iterations)
        labels = torch.full((context.dataset_size,), UNASSIGNED, dtype=torch.long, device=z.device)
        labels[rows] = result.assignments
        self.pseudo_labels = labels.to(self.num_active.device)  # (N,)
        self.num_active.fill_(clusters)
        self._teacher.clear()  # labelled: the parent can be freed

    def training_step(self, batch: Batch) -> StepOutput:
        views = self.augment(batch.images)  # (B, 3, S, S)
        h = self.backbone(views)  # (B, D)
        logits = self.classifier(h)[:, : int(self.num_active)].float()  # (B, K)
        labels = self._labels(batch.indices.to(h.device), logits.detach())  # (B,)
        loss = F.cross_entropy(logits, labels)
        with torch.no_grad():
            accuracy = (logits.argmax(dim=1) == labels).float().mean()
        return StepOutput(
            loss=loss,
            metrics={"loss_cluster_classification": loss.item(), "accuracy": accuracy.item()},
            embeddings=h.detach(),  # (B, D)
        )

    def _labels(self, indices: Tensor, logits: Tensor) -> Tensor:
        """(B,) dataset indices -> (B,) cluster ids; unlabelled items (a step before any
        epoch start) take the classifier's own best guess."""
        size = self.pseudo_labels.shape[0]
        guess = logits.argmax(dim=1)  # (B,)
        if size == 0:
            return guess
        stored = self.pseudo_labels[indices.clamp(max=size - 1)]  # (B,)
        return torch.where((indices < size) & (stored != UNASSIGNED), stored, guess)
