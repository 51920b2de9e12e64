"""What every joint-embedding method serves: backbone features and their cosine distance."""

from __future__ import annotations

from typing import ClassVar

import torch.nn.functional as F
from torch import Tensor

from ssl_engine.backbones import Backbone
from ssl_engine.methods.base import Family, Method


class JointEmbeddingMethod(Method):
    """A method whose users get ``self.backbone`` features (no projector or predictor).

    Energy is 1 - cosine similarity of those features: 0 for two views the encoder maps
    to the same direction, up to 2 for opposite ones. Heads stay internal to training,
    since the representation before the projector transfers better (SimCLR, section 4.2).
    """

    family: ClassVar[Family] = Family.JOINT_EMBEDDING
    backbone: Backbone

    def embed(self, x: Tensor) -> Tensor:
        return self.backbone(x)  # (B, D)

    def energy(self, x: Tensor, y: Tensor) -> Tensor:
        return 1.0 - F.cosine_similarity(self.embed(x), self.embed(y), dim=1)  # (B,)
