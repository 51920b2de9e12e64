"""DeeperCluster: hierarchical k-means targets combined with rotation prediction.

Caron, Bojanowski, Mairal and Joulin, "Unsupervised Pre-Training of Image Features on
Non-Curated Data", ICCV 2019 (arXiv:1905.01278). DeepCluster's pseudo-labels alone
overfit the noise of uncurated data; RotNet's rotation prediction (Gidaris et al., ICLR
2018) alone learns little semantics. DeeperCluster asks for both at once: each image is
turned by one of four quarter turns and the network predicts the pair (rotation,
cluster). For very many clusters the target is split in two levels: the data is first
clustered into S super-clusters, each super-cluster into K / S sub-clusters; a
super-class is a (super-cluster, rotation) pair, and each super-class has its own
sub-class classifier.

Energy view: a joint-embedding method whose collapse is prevented by clustering (k-means
targets cannot all be one class) and by the rotation task, whose labels come from the
data and cannot collapse. E(x, y) is the cosine distance of the backbone features, as
for the other joint-embedding methods.

    every ``recluster_every_epochs`` epochs: every image -> backbone -> h (N, D)
        -> PCA-whitened, L2-normalised (N, d) -> k-means into S super-clusters
        -> each super-cluster into K / S sub-clusters -> labels (2, N); the classifiers
        are re-initialised (the cluster ids have changed)
    each step: 1 view, turned by r in {0, 1, 2, 3} -> backbone -> h (B, D)
        loss = CE(super_classifier(h), s * 4 + r) + CE(sub_classifier[s * 4 + r](h), c)

Defaults are the authors' training script's (``main.py``): clusters recomputed every
3 epochs, PCA to 256 dimensions before k-means, 10 k-means iterations, 4 super-classes
with rotation prediction (one super-cluster times four rotations), SGD 0.1, momentum
0.9, weight decay 1e-5; the cluster count follows DeepCluster's size-aware rule here.
Not reproduced: sampling images uniformly over the pseudo-labels, and the Sobel input
filter (off in the authors' script).
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
import torch.nn.functional as F
from pydantic import Field
from torch import Tensor, nn

from ssl_engine.augment import ViewAugment
from ssl_engine.augment.presets import crop_flip_config
from ssl_engine.augment.rotation import QUARTER_TURNS, rotate_quarter_turns
from ssl_engine.kmeans import spherical_kmeans
from ssl_engine.methods.base import (
    Batch,
    CollapsePrevention,
    EpochContext,
    Hyperparameters,
    OptimizerDefaults,
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
from ssl_engine.pca import pca_whiten

SUPER, SUB = 0, 1  # rows of the pseudo-label buffer


class DeeperClusterHyperparameters(Hyperparameters):
    """DeeperCluster's knobs; the authors' script's values, cluster count size-aware."""

    num_clusters: int | None = Field(
        None,
        ge=2,
        le=MAX_CLUSTERS,
        description=(
            "Clusters in all, split evenly over the super-clusters; None: min(3000, "
            "dataset size / 10), DeepCluster's rule (the authors' script: 10,000 for "
            "10 million images). Capped at the dataset size."
        ),
    )
    num_super_clusters: int = Field(
        1,
        ge=1,
        le=256,
        description=(
            "Super-clusters S of the first clustering level; with rotation prediction "
            "there are 4 S super-classes (the authors' default: 4 super-classes, S = 1)."
        ),
    )
    predict_rotation: bool = Field(
        True, description="Turn each image by a random quarter turn and predict it (RotNet)."
    )
    recluster_every_epochs: int = Field(
        3, ge=1, le=1000, description="Epochs between clusterings (the authors' script: 3)."
    )
    pca_dim: int = Field(
        256,
        ge=2,
        le=4096,
        description="Dimensions kept by the PCA whitening before k-means (at most the "
        "feature width; the authors' script: 256).",
    )
    kmeans_iterations: int = Field(
        10, ge=1, le=1000, description="Lloyd iterations per clustering (the authors': 10)."
    )


class DeeperCluster(JointEmbeddingMethod):
    """Backbone + a super-class classifier and one sub-class classifier per super-class."""

    name = "deepercluster"
    collapse_prevention = CollapsePrevention.CLUSTERING
    summary = (
        "Clusters the dataset hierarchically every few epochs and trains the network to "
        "predict, for an image turned by a random quarter turn, both the rotation and the "
        "image's cluster (DeeperCluster)."
    )
    paper = (
        "Caron, Bojanowski, Mairal, Joulin. Unsupervised Pre-Training of Image Features on "
        "Non-Curated Data. ICCV 2019. arXiv:1905.01278"
    )
    hyperparameters_model = DeeperClusterHyperparameters
    # The authors' main.py (nobody publishes a CIFAR recipe): SGD 0.1, momentum 0.9,
    # weight decay 1e-5, constant rate and no warm-up; here the rate follows the cosine
    # schedule every method shares, and 0.1 is taken as the rate per 256 images.
    optimizer_defaults = OptimizerDefaults(
        name="sgd",
        lr=0.1,
        weight_decay=1e-5,
        warmup_fraction=0.0,
        source="facebookresearch/DeeperCluster main.py: SGD lr 0.1, momentum 0.9, wd 1e-5",
    )

    pseudo_labels: Tensor
    sub_clusters_active: Tensor
    clustered_epoch: Tensor

    def __init__(
        self, *, backbone: str, image_size: int, hparams: DeeperClusterHyperparameters
    ) -> None:
        super().__init__()
        self.hparams = hparams
        self._set_backbone(backbone, image_size)
        self.rotations = QUARTER_TURNS if hparams.predict_rotation else 1
        supers = hparams.num_super_clusters
        groups = supers * self.rotations  # super-classes
        # Sized for the largest K the hyperparameters allow; a smaller dataset uses the
        # first rows of each sub-class classifier (``sub_clusters_active``).
        most = math.ceil((hparams.num_clusters or DEFAULT_MAX_CLUSTERS) / supers)
        self.super_classifier = nn.Linear(self.embed_dim, groups)
        self.sub_weight = nn.Parameter(torch.empty(groups, most, self.embed_dim))  # (G, K, D)
        self.sub_bias = nn.Parameter(torch.empty(groups, most))  # (G, K)
        # Buffers, so that a resumed run keeps its targets until the next clustering.
        self.register_buffer("pseudo_labels", torch.empty(2, 0, dtype=torch.long))  # (2, N)
        self.register_buffer("sub_clusters_active", torch.full((supers,), most))  # (S,)
        self.register_buffer("clustered_epoch", torch.tensor(-1))
        self.register_load_state_dict_pre_hook(labels_sized_like_checkpoint)
        self._reset_classifiers()
        self.augment = ViewAugment(replace(crop_flip_config(image_size), crop_scale=(0.08, 1.0)))

    @torch.no_grad()
    def _reset_classifiers(self) -> None:
        """nn.Linear's initialisation for the sub-class classifiers, whose cluster ids have
        changed, and for the super-class one unless its classes are the rotations alone
        (one super-cluster), whose meaning a new clustering does not change."""
        if self.hparams.num_super_clusters > 1 or self.pseudo_labels.shape[1] == 0:
            self.super_classifier.reset_parameters()
        bound = 1.0 / math.sqrt(self.embed_dim)
        nn.init.uniform_(self.sub_weight, -bound, bound)
        nn.init.uniform_(self.sub_bias, -bound, bound)

    def _needs_clustering(self, context: EpochContext) -> bool:
        if self.pseudo_labels.shape[1] != context.dataset_size:
            return True  # never clustered, or another dataset
        due = context.epoch % self.hparams.recluster_every_epochs == 0
        return due and int(self.clustered_epoch) != context.epoch

    @torch.no_grad()
    def on_epoch_start(self, context: EpochContext) -> None:
        """Hierarchical k-means on the whitened features of every image, when due."""
        if not self._needs_clustering(context):
            return
        was_training = self.training
        self.eval()  # BatchNorm running statistics, no augmentation: a fixed snapshot
        features, positions = [], []
        for images, indices in context.iterate_dataset():
            features.append(self.backbone(images).float())  # (b, D)
            positions.append(indices)  # (b,)
        self.train(was_training)
        z = pca_whiten(torch.cat(features), self.hparams.pca_dim)  # (N, d)
        rows = torch.cat(positions).to(z.device)  # (N,)
        labels = torch.full(
            (2, context.dataset_size), UNASSIGNED, dtype=torch.long, device=z.device
        )  # (2, N)
        supers = min(self.hparams.num_super_clusters, len(z))
        iterations = self.hparams.kmeans_iterations
        if supers > 1:
            super_ids = spherical_kmeans(z, supers, iterations=iterations).assignments  # (N,)
        else:
            super_ids = torch.zeros(len(z), dtype=torch.long, device=z.device)
        per_super = max(1, cluster_count(self.hparams.num_clusters, len(z)) // supers)
        per_super = min(per_super, self.sub_weight.shape[1])
        active = torch.ones_like(self.sub_clusters_active)  # (S,)
        for super_id in range(supers):
            members = (super_ids == super_id).nonzero().squeeze(1)  # (n,)
            clusters = min(per_super, len(members))
            if clusters == 0:
                continue
            result = spherical_kmeans(z[members], clusters, iterations=iterations)
            labels[SUB, rows[members]] = result.assignments
            active[super_id] = clusters
        labels[SUPER, rows] = super_ids
        self._reset_classifiers()
        self.pseudo_labels = labels  # (2, N)
        self.sub_clusters_active.copy_(active)
        self.clustered_epoch.fill_(context.epoch)

    def training_step(self, batch: Batch) -> StepOutput:
        batch_size = batch.images.shape[0]
        views = self.augment(batch.images)  # (B, 3, S, S)
        turns = torch.randint(self.rotations, (batch_size,), device=views.device)  # (B,)
        h = self.backbone(rotate_quarter_turns(views, turns))  # (B, D)
        super_ids, sub_ids = self._targets(batch.indices.to(views.device))  # (B,), (B,)
        super_classes = super_ids * self.rotations + turns  # (B,)

        super_logits = self.super_classifier(h).float()  # (B, G)
        groups, most, width = self.sub_weight.shape
        all_sub_logits = h @ self.sub_weight.reshape(groups * most, width).T  # (B, G K)
        sub_logits = (
            all_sub_logits.view(batch_size, groups, most)[
                torch.arange(batch_size, device=h.device), super_classes
            ].float()
            + self.sub_bias[super_classes].float()
        )  # (B, K) of each image's super-class
        in_use = torch.arange(most, device=h.device) < self.sub_clusters_active[super_ids, None]
        sub_logits = sub_logits.masked_fill(~in_use, float("-inf"))  # (B, K)
        # Images not clustered yet (a step before any epoch start) take their best guess.
        sub_ids = torch.where(sub_ids == UNASSIGNED, sub_logits.detach().argmax(dim=1), sub_ids)

        loss_super = F.cross_entropy(super_logits, super_classes)
        loss_sub = F.cross_entropy(sub_logits, sub_ids)
        loss = loss_super + loss_sub
        with torch.no_grad():
            super_correct = super_logits.argmax(dim=1) == super_classes  # (B,)
            both_correct = super_correct & (sub_logits.argmax(dim=1) == sub_ids)  # (B,)
        return StepOutput(
            loss=loss,
            metrics={
                "loss_super_class": loss_super.item(),
                "loss_sub_class": loss_sub.item(),
                "super_class_accuracy": super_correct.float().mean().item(),
                "accuracy": both_correct.float().mean().item(),
            },
            embeddings=h.detach(),  # (B, D) of the turned views
        )

    def _targets(self, indices: Tensor) -> tuple[Tensor, Tensor]:
        """(B,) dataset indices -> (B,) super-cluster ids (0 when unknown) and (B,)
        sub-cluster ids (UNASSIGNED when unknown)."""
        size = self.pseudo_labels.shape[1]
        if size == 0:
            unknown = torch.full_like(indices, UNASSIGNED)
            return torch.zeros_like(indices), unknown
        known = indices < size  # (B,)
        stored = self.pseudo_labels[:, indices.clamp(max=size - 1)]  # (2, B)
        stored = torch.where(known, stored, UNASSIGNED)  # (2, B)
        return stored[SUPER].clamp(min=0), stored[SUB]
