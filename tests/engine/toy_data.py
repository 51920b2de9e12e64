"""A tiny structured image dataset and an in-memory loader, for fast engine tests.

Four classes of shapes (square, disc, diamond, cross) on a noisy background, each image
with its own position and colour, so two images differ even within a class and the
classes differ by shape rather than by colour alone. 64 images of 16 px train a
``tiny_cnn`` for a few dozen steps in seconds.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from ssl_engine.methods.base import Batch

NUM_CLASSES = 4


def _shape_masks(size: int, cy: int, cx: int, radius: int) -> list[Tensor]:
    """Boolean (size, size) masks of the four class shapes centred on (cy, cx)."""
    ys, xs = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    dy, dx = (ys - cy).abs(), (xs - cx).abs()
    return [
        (dy <= radius) & (dx <= radius),  # square
        dy**2 + dx**2 <= radius**2 + 1,  # disc
        dy + dx <= radius + 1,  # diamond
        ((dy <= 1) | (dx <= 1)) & (dy <= radius + 1) & (dx <= radius + 1),  # cross
    ]


def toy_images(num_images: int = 64, size: int = 16, seed: int = 0) -> tuple[Tensor, Tensor]:
    """(N, 3, size, size) float images in [0, 1] and their (N,) labels, label = i % 4.

    Every image draws its own shape position, shape size, shape colour and background
    noise from a generator seeded with ``seed``: same seed, same dataset.
    """
    if size < 12:
        raise ValueError(f"size must be >= 12 for the shapes to fit, got {size}")
    gen = torch.Generator().manual_seed(seed)
    images = 0.2 * torch.rand(num_images, 3, size, size, generator=gen)  # dark noise
    labels = torch.arange(num_images) % NUM_CLASSES
    for i in range(num_images):
        radius = int(torch.randint(3, 5, (), generator=gen))
        cy, cx = torch.randint(radius + 1, size - radius - 1, (2,), generator=gen).tolist()
        colour = 0.5 + 0.5 * torch.rand(3, 1, generator=gen)  # bright, varied hue
        mask = _shape_masks(size, cy, cx, radius)[int(labels[i])]
        images[i][:, mask] = colour
    return images, labels


class InMemoryLoader:
    """The trainer's loader interface over tensors: a seeded permutation per epoch.

    Drops the last incomplete batch, as training loaders do, so every step sees
    ``batch_size`` images.
    """

    def __init__(
        self, images: Tensor, batch_size: int, labels: Tensor | None = None, seed: int = 0
    ) -> None:
        if not 1 <= batch_size <= len(images):
            raise ValueError(f"batch_size must be in [1, {len(images)}], got {batch_size}")
        self.images = images
        self.labels = labels
        self.batch_size = batch_size
        self.seed = seed

    @property
    def steps_per_epoch(self) -> int:
        return len(self.images) // self.batch_size

    def __len__(self) -> int:
        return len(self.images)  # images, not batches, as the trainer expects

    def epoch(self, epoch_index: int, start_step: int = 0) -> Iterator[Batch]:
        gen = torch.Generator().manual_seed(self.seed + epoch_index)
        order = torch.randperm(len(self.images), generator=gen)
        for step in range(start_step, self.steps_per_epoch):
            indices = order[step * self.batch_size : (step + 1) * self.batch_size]
            labels = None if self.labels is None else self.labels[indices]
            yield Batch(images=self.images[indices], indices=indices, labels=labels)

    def ordered(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        for start in range(0, len(self.images), batch_size):
            indices = torch.arange(start, min(start + batch_size, len(self.images)))
            yield self.images[indices], indices
