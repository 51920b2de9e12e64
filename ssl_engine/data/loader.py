"""Shuffled batches from an in-memory (or memory-mapped) uint8 image tensor, or rows of one.

Each epoch's order is a permutation drawn from its own ``torch.Generator`` seeded with
``seed + epoch``, independent of the global RNG the augmentations use, so an epoch's
order is a pure function of (seed, epoch) and a resumed run can skip exactly the
batches it already trained on (``start_step``). Batches are gathered as uint8 on the
CPU (in a background thread, one batch ahead), pinned when the target is a GPU, copied
without blocking and turned into float [0, 1] on the device, where the copy is 4x
smaller than it would be as float.

The images may be ``ImageRows``: a subset of a memory-mapped cache given by row indices
(the training part of a labeled dataset, say). Positions are then shuffled, and each
batch reads only its own rows from the mapping, so the subset is never copied whole.
``Batch.indices`` are positions in the subset (0 .. len - 1) either way.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor

from ssl_engine.data.prefetch import prefetch
from ssl_engine.data.rows import ImageRows, Images, as_image_rows
from ssl_engine.methods.base import Batch

_CpuBatch = tuple[Tensor, Tensor, Tensor | None]  # indices (B,), uint8 (B, 3, S, S), labels


class BatchLoader:
    """Deterministic, resumable shuffled batches of ``images`` on ``device``."""

    def __init__(
        self,
        images: Images,
        labels: Tensor | None,
        batch_size: int,
        device: torch.device | str,
        seed: int,
        drop_last: bool = True,
        background: bool = True,
    ) -> None:
        if images.ndim != 4 or images.shape[1] != 3 or images.dtype != torch.uint8:
            raise ValueError(
                f"images must be a (N, 3, S, S) uint8 tensor, got {images.dtype} "
                f"{tuple(images.shape)}"
            )
        if labels is not None and labels.shape != (images.shape[0],):
            raise ValueError(f"labels must have shape ({images.shape[0]},), got {labels.shape}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if images.shape[0] == 0:
            raise ValueError("the dataset has no images")
        if drop_last and images.shape[0] < batch_size:
            raise ValueError(
                f"the dataset has {images.shape[0]} images, fewer than one batch of "
                f"{batch_size}; lower batch_size or add images"
            )
        # (N, 3, S, S) uint8 on the CPU, possibly rows of a memory-mapped cache; never
        # copied whole: each batch gathers its own rows
        self.images: ImageRows = as_image_rows(images)
        self.labels = labels.long().cpu() if labels is not None else None  # (N,)
        self.batch_size = batch_size
        self.device = torch.device(device)
        self.seed = seed
        self.drop_last = drop_last
        self.background = background

    def __len__(self) -> int:
        return len(self.images)

    @property
    def steps_per_epoch(self) -> int:
        n, b = len(self), self.batch_size
        return n // b if self.drop_last else -(-n // b)

    def permutation(self, epoch_index: int) -> Tensor:
        """(N,) int64 order of the dataset in epoch ``epoch_index``."""
        generator = torch.Generator().manual_seed(self.seed + epoch_index)
        return torch.randperm(len(self), generator=generator)

    def epoch(self, epoch_index: int, start_step: int = 0) -> Iterator[Batch]:
        """The batches of one epoch, skipping the first ``start_step`` (for resume)."""
        if not 0 <= start_step <= self.steps_per_epoch:
            raise ValueError(f"start_step must be in [0, {self.steps_per_epoch}], got {start_step}")
        order = self.permutation(epoch_index)  # (N,)
        chunks = (
            order[step * self.batch_size : (step + 1) * self.batch_size]
            for step in range(start_step, self.steps_per_epoch)
        )
        return self._batches(chunks)

    def ordered(self, batch_size: int) -> Iterator[tuple[Tensor, Tensor]]:
        """(images float [0, 1] on device, indices) over the dataset in order, unshuffled."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        chunks = (
            torch.arange(start, min(start + batch_size, len(self)))
            for start in range(0, len(self), batch_size)
        )
        return self._ordered_batches(chunks)

    def _batches(self, chunks: Iterator[Tensor]) -> Iterator[Batch]:
        for indices, pixels, labels in self._cpu_batches(chunks):
            yield Batch(
                images=self._to_device_float(pixels),
                indices=indices.to(self.device, non_blocking=True),
                labels=None if labels is None else labels.to(self.device, non_blocking=True),
            )

    def _ordered_batches(self, chunks: Iterator[Tensor]) -> Iterator[tuple[Tensor, Tensor]]:
        for indices, pixels, _ in self._cpu_batches(chunks):
            yield self._to_device_float(pixels), indices.to(self.device, non_blocking=True)

    def _cpu_batches(self, chunks: Iterator[Tensor]) -> Iterator[_CpuBatch]:
        gathered = (self._gather(indices) for indices in chunks)
        return prefetch(gathered) if self.background else gathered

    def _gather(self, indices: Tensor) -> _CpuBatch:
        pixels = self.images.gather(indices)  # (B, 3, S, S) uint8, a copy of B rows only
        if self.device.type == "cuda":
            pixels = pixels.pin_memory()  # lets the copy to the GPU run asynchronously
        labels = None if self.labels is None else self.labels.index_select(0, indices)
        return indices, pixels, labels

    def _to_device_float(self, pixels: Tensor) -> Tensor:
        """(B, 3, S, S) uint8 on the CPU -> float32 in [0, 1] on the device."""
        return pixels.to(self.device, non_blocking=True).float().div_(255)
