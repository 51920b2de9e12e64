"""Rotations by multiples of 90 degrees, a different one per image.

RotNet (Gidaris, Singh, Komodakis, "Unsupervised Representation Learning by Predicting
Image Rotations", ICLR 2018) and DeeperCluster (Caron et al., ICCV 2019) train a network
to tell which of the four rotations an image was given.
"""

from __future__ import annotations

import torch
from torch import Tensor

QUARTER_TURNS = 4  # 0, 90, 180 and 270 degrees


def rotate_quarter_turns(images: Tensor, turns: Tensor) -> Tensor:
    """(B, C, S, S) square images, (B,) ints in [0, 4) -> (B, C, S, S), image i turned
    ``turns[i]`` times 90 degrees counter-clockwise."""
    if images.ndim != 4 or images.shape[2] != images.shape[3]:
        raise ValueError(f"expected (B, C, S, S) square images, got {tuple(images.shape)}")
    if turns.shape != images.shape[:1]:
        raise ValueError(f"expected one turn count per image, got {tuple(turns.shape)}")
    rotated = images.clone()
    for k in range(1, QUARTER_TURNS):
        chosen = (turns == k).nonzero().squeeze(1)  # (b,)
        if chosen.numel():
            rotated[chosen] = torch.rot90(images[chosen], k, dims=(2, 3))
    return rotated
