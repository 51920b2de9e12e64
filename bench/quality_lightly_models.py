"""lightly's joint-embedding methods around one of our backbones; runs in ``bench/.venv-peer``.

Each class is the model of lightly's CIFAR-10 benchmark
(``docs/source/getting_started/benchmarks/cifar10_benchmark.py`` in lightly's
repository) for one method: lightly's heads (``lightly.models.modules``), loss
(``lightly.loss``), momentum update and batch shuffle (``lightly.models.utils``), wired
as the benchmark's ``training_step`` wires them. Only the backbone is ours (so it starts
from the same weights as our run); the heads take its width ``D`` as their input and
keep the benchmark's other widths (written there for a 512-d ResNet-18). VICReg is not
in that benchmark: its model follows lightly's Imagenette benchmark.

``loss(views)`` is one training step's loss (momentum updates included, as lightly
runs them at the start of the step); ``optimized()`` the parameters lightly's
``configure_optimizers`` hands to its optimizer; ``embed`` what the kNN scores.
"""

from __future__ import annotations

import copy

from lightly.loss import BarlowTwinsLoss, NegativeCosineSimilarity, NTXentLoss, SwaVLoss, VICRegLoss
from lightly.models.modules import (
    BarlowTwinsProjectionHead,
    BYOLPredictionHead,
    BYOLProjectionHead,
    MoCoProjectionHead,
    SimCLRProjectionHead,
    SimSiamPredictionHead,
    SwaVProjectionHead,
    SwaVPrototypes,
)
from lightly.models.modules.heads import ProjectionHead
from lightly.models.utils import (
    batch_shuffle,
    batch_unshuffle,
    deactivate_requires_grad,
    update_momentum,
)
from quality_lightly_splitbn import MOCO_SPLITS, split_batchnorm
from torch import Tensor, nn

from ssl_engine.backbones import Backbone


class LightlyModel(nn.Module):
    """A backbone (ours) with a method's heads and loss (lightly's)."""

    def __init__(self, backbone: nn.Module) -> None:
        super().__init__()
        self.backbone = backbone

    def loss(self, views: list[Tensor]) -> Tensor:
        raise NotImplementedError

    def optimized(self) -> list[nn.Parameter]:
        return list(self.parameters())  # the benchmark's self.parameters()

    def embed(self, x: Tensor) -> Tensor:
        return self.backbone(x)  # (B, D), as our joint-embedding methods' embed


class SimCLR(LightlyModel):
    """SimCLRModel: SimCLRProjectionHead(D, 512, 128), NTXentLoss() (temperature 0.5)."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(backbone)
        self.projection_head = SimCLRProjectionHead(backbone.out_dim, 512, 128)
        self.criterion = NTXentLoss()

    def loss(self, views: list[Tensor]) -> Tensor:
        x0, x1 = views
        return self.criterion(self._project(x0), self._project(x1))

    def _project(self, x: Tensor) -> Tensor:
        return self.projection_head(self.backbone(x))  # (B, 128)


class MoCo(LightlyModel):
    """MocoModel: split BatchNorm (8 splits) in both backbones, MoCoProjectionHead(D, 512,
    128), EMA 0.99 (constant) of backbone and head, a 4096-key bank in NTXentLoss(0.1),
    keys batch-shuffled, the loss symmetric over the two views."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(split_batchnorm(backbone, MOCO_SPLITS))
        self.projection_head = MoCoProjectionHead(backbone.out_dim, 512, 128)
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        # lightly >= 1.6 wants the bank as (keys, dim); the benchmark's 4096 keys of 128
        self.criterion = NTXentLoss(temperature=0.1, memory_bank_size=(4096, 128))

    def optimized(self) -> list[nn.Parameter]:
        return [*self.backbone.parameters(), *self.projection_head.parameters()]

    def loss(self, views: list[Tensor]) -> Tensor:
        update_momentum(self.backbone, self.backbone_momentum, 0.99)
        update_momentum(self.projection_head, self.projection_head_momentum, 0.99)
        x0, x1 = views
        # both calls enqueue their keys, as in the benchmark
        return 0.5 * (self.criterion(*self._pair(x0, x1)) + self.criterion(*self._pair(x1, x0)))

    def _pair(self, query_view: Tensor, key_view: Tensor) -> tuple[Tensor, Tensor]:
        """Queries of one view, keys of the other (shuffled across BN splits and back)."""
        shuffled, order = batch_shuffle(key_view)
        queries = self.projection_head(self.backbone(query_view))  # (B, 128)
        keys = self.projection_head_momentum(self.backbone_momentum(shuffled))  # (B, 128)
        return queries, batch_unshuffle(keys, order)


class BYOL(LightlyModel):
    """BYOLModel: BYOLProjectionHead(D, 1024, 256), BYOLPredictionHead(256, 1024, 256),
    EMA 0.99 (constant) of backbone and projection head, NegativeCosineSimilarity."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(backbone)
        self.projection_head = BYOLProjectionHead(backbone.out_dim, 1024, 256)
        self.prediction_head = BYOLPredictionHead(256, 1024, 256)
        self.backbone_momentum = copy.deepcopy(self.backbone)
        self.projection_head_momentum = copy.deepcopy(self.projection_head)
        deactivate_requires_grad(self.backbone_momentum)
        deactivate_requires_grad(self.projection_head_momentum)
        self.criterion = NegativeCosineSimilarity()

    def optimized(self) -> list[nn.Parameter]:
        return [
            *self.backbone.parameters(),
            *self.projection_head.parameters(),
            *self.prediction_head.parameters(),
        ]

    def loss(self, views: list[Tensor]) -> Tensor:
        update_momentum(self.backbone, self.backbone_momentum, m=0.99)
        update_momentum(self.projection_head, self.projection_head_momentum, m=0.99)
        x0, x1 = views
        p0, p1 = self._predict(x0), self._predict(x1)
        z0, z1 = self._target(x0), self._target(x1)
        return 0.5 * (self.criterion(p0, z1) + self.criterion(p1, z0))

    def _predict(self, x: Tensor) -> Tensor:
        return self.prediction_head(self.projection_head(self.backbone(x)))  # (B, 256)

    def _target(self, x: Tensor) -> Tensor:
        return self.projection_head_momentum(self.backbone_momentum(x)).detach()  # (B, 256)


class SimSiam(LightlyModel):
    """SimSiamModel: the benchmark's 2-layer projector (D-2048-BN-ReLU-2048-BN, "for
    cifar10 as described in the paper"; not the 3-layer SimSiamProjectionHead),
    SimSiamPredictionHead(2048, 512, 2048), NegativeCosineSimilarity, stop-gradient."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(backbone)
        self.projection_head = ProjectionHead(
            [
                (backbone.out_dim, 2048, nn.BatchNorm1d(2048), nn.ReLU(inplace=True)),
                (2048, 2048, nn.BatchNorm1d(2048), None),
            ]
        )
        self.prediction_head = SimSiamPredictionHead(2048, 512, 2048)
        self.criterion = NegativeCosineSimilarity()

    def loss(self, views: list[Tensor]) -> Tensor:
        x0, x1 = views
        z0, p0 = self._project_predict(x0)
        z1, p1 = self._project_predict(x1)
        return 0.5 * (self.criterion(z0, p1) + self.criterion(z1, p0))

    def _project_predict(self, x: Tensor) -> tuple[Tensor, Tensor]:
        z = self.projection_head(self.backbone(x))  # (B, 2048)
        return z.detach(), self.prediction_head(z)


class BarlowTwins(LightlyModel):
    """BarlowTwinsModel: the benchmark's 2-layer projector (D-2048-BN-ReLU-2048, not the
    3-layer BarlowTwinsProjectionHead), BarlowTwinsLoss() (lambda 5e-3)."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(backbone)
        self.projection_head = ProjectionHead(
            [
                (backbone.out_dim, 2048, nn.BatchNorm1d(2048), nn.ReLU(inplace=True)),
                (2048, 2048, None, None),
            ]
        )
        self.criterion = BarlowTwinsLoss()

    def loss(self, views: list[Tensor]) -> Tensor:
        x0, x1 = views
        return self.criterion(self._project(x0), self._project(x1))

    def _project(self, x: Tensor) -> Tensor:
        return self.projection_head(self.backbone(x))  # (B, 2048)


class VICReg(LightlyModel):
    """Imagenette VICRegModel: BarlowTwinsProjectionHead(D, 2048, 2048), VICRegLoss()
    (25 / 25 / 1)."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(backbone)
        self.projection_head = BarlowTwinsProjectionHead(backbone.out_dim, 2048, 2048)
        self.criterion = VICRegLoss()

    def loss(self, views: list[Tensor]) -> Tensor:
        x0, x1 = views
        return self.criterion(self._project(x0), self._project(x1))

    def _project(self, x: Tensor) -> Tensor:
        return self.projection_head(self.backbone(x))  # (B, 2048)


class SwaV(LightlyModel):
    """SwaVModel: SwaVProjectionHead(D, 512, 128), L2-normalised, SwaVPrototypes(128, 512)
    renormalised before every step, SwaVLoss() on the two crops, no queue."""

    def __init__(self, backbone: Backbone) -> None:
        super().__init__(backbone)
        self.projection_head = SwaVProjectionHead(backbone.out_dim, 512, 128)
        self.prototypes = SwaVPrototypes(128, 512)
        self.criterion = SwaVLoss()

    def loss(self, views: list[Tensor]) -> Tensor:
        self.prototypes.normalize()
        scores = [self._scores(crop) for crop in views]  # each (B, 512)
        return self.criterion(scores[:2], scores[2:])  # 2 high-resolution crops, no small ones

    def _scores(self, x: Tensor) -> Tensor:
        z = nn.functional.normalize(self.projection_head(self.backbone(x)), dim=1, p=2)
        return self.prototypes(z)  # one head: a tensor
