"""What every joint-embedding method shares: a backbone, two views and their cosine distance."""

from __future__ import annotations

from typing import ClassVar

from torch import Tensor

from ssl_engine.augment import TwoViews
from ssl_engine.backbones import Backbone, build_backbone
from ssl_engine.losses.similarity import cosine_float32
from ssl_engine.methods.base import Family, Method, StepOutput


class JointEmbeddingMethod(Method):
    """A method whose users get ``self.backbone`` features (no projector or predictor).

    Energy is 1 - cosine similarity of those features: 0 for two views the encoder maps
    to the same direction, up to 2 for opposite ones. Heads stay internal to training,
    since the representation before the projector transfers better (SimCLR, section 4.2).
    """

    family: ClassVar[Family] = Family.JOINT_EMBEDDING
    backbone: Backbone
    views: TwoViews

    def _set_backbone(self, backbone: str, image_size: int) -> None:
        """Build ``self.backbone``; users get its features, so its width is ``embed_dim``."""
        self.backbone = build_backbone(backbone, image_size)
        self.embed_dim = self.backbone.out_dim

    def _encode_views(self, images: Tensor) -> Tensor:
        """(B, 3, H, W) -> (2B, D) backbone features of two views; rows i and B + i pair up.

        One augmentation call on the batch twice over: every row draws its own random
        parameters, so rows i and B + i are two independent views of image i.
        """
        return self.backbone(self.views(images))  # (2B, D)

    def embed(self, x: Tensor) -> Tensor:
        return self.backbone(x)  # (B, D)

    def energy(self, x: Tensor, y: Tensor) -> Tensor:
        return 1.0 - cosine_float32(self.embed(x), self.embed(y))  # (B,), float32 under autocast


def two_view_output(loss: Tensor, features: Tensor, **metrics: float) -> StepOutput:
    """A step's result; ``features`` (2B, D) of both views, the first B go to the monitor."""
    return StepOutput(
        loss=loss, metrics=metrics, embeddings=features[: len(features) // 2].detach()
    )
