"""A subset of a uint8 image tensor, kept as row indices and read one batch at a time.

A dataset's pixels live in one memory-mapped cache file (``cache``). The part a job
trains on, or holds out, is a list of rows of it. Indexing the memmap with that whole
list (``images[rows]``, ``index_select``) would copy the part into memory: 90 % of the
dataset for the training part, so resident memory would grow with the dataset.
``ImageRows`` keeps the mapping and the row indices instead; ``gather`` copies only the
rows of one batch, so a run holds a batch or two of pixels plus what the OS page cache
chooses to keep (which it can drop under pressure, unlike a copy).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TypeAlias

import torch
from torch import Tensor


class ImageRows:
    """Rows ``rows`` of a (N, 3, S, S) uint8 ``source`` (possibly memory-mapped).

    Behaves as the (len(rows), 3, S, S) tensor ``source[rows]`` would for the things the
    engine asks of its images (``len``, ``shape``, ``dtype``, ``ndim``), but position i
    is read from ``source`` only when a batch containing it is gathered. ``rows=None``
    means every row of ``source``, in order.
    """

    def __init__(self, source: Tensor, rows: Tensor | Sequence[int] | None = None) -> None:
        if source.ndim != 4 or source.shape[1] != 3 or source.dtype != torch.uint8:
            raise ValueError(
                f"source must be a (N, 3, S, S) uint8 tensor, got {source.dtype} "
                f"{tuple(source.shape)}"
            )
        index = None if rows is None else _indices(rows, source.shape[0], "rows")
        self.source = source  # (N, 3, S, S) uint8; never copied as a whole
        self.rows = index  # (M,) int64 rows of source, or None for all of them

    def __len__(self) -> int:
        return self.source.shape[0] if self.rows is None else self.rows.shape[0]

    def __repr__(self) -> str:
        return f"ImageRows({len(self)} of {self.source.shape[0]} rows, {tuple(self.shape)[1:]})"

    @property
    def shape(self) -> torch.Size:
        return torch.Size((len(self), *self.source.shape[1:]))

    @property
    def dtype(self) -> torch.dtype:
        return self.source.dtype

    @property
    def ndim(self) -> int:
        return self.source.ndim

    def source_rows(self, positions: Tensor) -> Tensor:
        """(B,) positions in this subset -> (B,) int64 rows of ``source``."""
        positions = positions.long()
        return positions if self.rows is None else self.rows.index_select(0, positions)

    def gather(self, positions: Tensor) -> Tensor:
        """(B,) positions -> (B, 3, S, S) uint8: a copy of just those rows."""
        return self.source.index_select(0, self.source_rows(positions))

    def take(self, positions: Tensor | Sequence[int]) -> ImageRows:
        """The subset at ``positions`` of this one, as rows of the same source (no copy)."""
        index = _indices(positions, len(self), "positions")
        return ImageRows(self.source, self.source_rows(index))

    def chunks(self, batch_size: int) -> Iterator[Tensor]:
        """(b, 3, S, S) uint8 copies of consecutive positions, ``batch_size`` at a time."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        for start in range(0, len(self), batch_size):
            yield self.gather(torch.arange(start, min(start + batch_size, len(self))))


def _indices(values: Tensor | Sequence[int], bound: int, name: str) -> Tensor:
    """``values`` as a (M,) int64 tensor; ValueError unless every one lies in [0, bound)."""
    index = torch.as_tensor(values, dtype=torch.long).flatten()
    if index.numel() and (int(index.min()) < 0 or int(index.max()) >= bound):
        raise ValueError(
            f"{name} must lie in [0, {bound}), got values from {int(index.min())} "
            f"to {int(index.max())}"
        )
    return index


# (N, 3, S, S) uint8 pixels: a whole tensor, or rows of one read batch by batch.
Images: TypeAlias = Tensor | ImageRows


def as_image_rows(images: Images) -> ImageRows:
    """``images`` as ``ImageRows`` (a tensor becomes all of its rows, without a copy)."""
    return images if isinstance(images, ImageRows) else ImageRows(images)
