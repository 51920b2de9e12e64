"""Two augmented views of every image, as joint-embedding methods need them."""

from __future__ import annotations

import torch
from torch import Tensor, nn

from ssl_engine.augment.config import ViewAugmentConfig
from ssl_engine.augment.view import ViewAugment


class TwoViews(nn.Module):
    """(B, 3, H, W) -> (2B, 3, S, S): rows [0, B) are view 1, rows [B, 2B) view 2.

    With one config both views come from the same distribution and are drawn in one
    batched call (every row gets its own parameters). With two configs the views are
    asymmetric, as in BYOL's recipe (Grill et al., 2020, appendix B).
    """

    def __init__(self, first: ViewAugmentConfig, second: ViewAugmentConfig | None = None):
        super().__init__()
        self.first = ViewAugment(first)
        self.second = ViewAugment(second) if second is not None else None

    def forward(self, images: Tensor) -> Tensor:
        if self.second is None:
            return self.first(torch.cat([images, images]))  # (2B, 3, S, S)
        return torch.cat([self.first(images), self.second(images)])  # (2B, 3, S, S)
