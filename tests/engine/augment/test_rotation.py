"""Per-image quarter turns match torch.rot90 image by image."""

from __future__ import annotations

import pytest
import torch

from ssl_engine.augment.rotation import rotate_quarter_turns


def test_each_image_gets_its_own_number_of_quarter_turns() -> None:
    images = torch.rand(6, 3, 5, 5, generator=torch.Generator().manual_seed(0))
    turns = torch.tensor([0, 1, 2, 3, 1, 0])
    rotated = rotate_quarter_turns(images, turns)
    for image, turned, k in zip(images, rotated, turns.tolist(), strict=True):
        assert torch.equal(turned, torch.rot90(image, k, dims=(1, 2)))
    assert torch.equal(rotate_quarter_turns(rotated, (4 - turns) % 4), images)


def test_rectangular_images_and_missing_turns_are_refused() -> None:
    with pytest.raises(ValueError, match="square"):
        rotate_quarter_turns(torch.rand(2, 3, 4, 5), torch.zeros(2, dtype=torch.long))
    with pytest.raises(ValueError, match="one turn count per image"):
        rotate_quarter_turns(torch.rand(2, 3, 4, 4), torch.zeros(3, dtype=torch.long))
