"""The epoch-end evaluator the trainer calls: weighted kNN top-1 on held-out images.

Each call embeds the training images (the bank) and the held-out images (the queries)
with the method's current ``embed`` in eval mode, then classifies every query by its
neighbours in the bank (``knn.knn_top1``). No gradient, augmentation or random number is
involved, so evaluating does not change what the run trains (exact resume still holds).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from ssl_engine.data.rows import Images, as_image_rows
from ssl_engine.evaluation.features import embed_uint8
from ssl_engine.evaluation.knn import KNN_K, KNN_TEMPERATURE, knn_top1
from ssl_engine.evaluation.split import held_out_split
from ssl_engine.methods.base import Method


@dataclass(frozen=True)
class LabeledImages:
    """images: (N, 3, S, S) uint8 on the CPU, or rows of such a tensor (``ImageRows``,
    read batch by batch); labels: (N,) int64 class ids."""

    images: Images
    labels: Tensor

    def __post_init__(self) -> None:
        if self.images.ndim != 4 or self.images.dtype != torch.uint8:
            raise ValueError(f"images must be (N, 3, S, S) uint8, got {self.images.dtype}")
        if self.labels.shape != (self.images.shape[0],) or self.images.shape[0] == 0:
            raise ValueError(
                f"need N >= 1 images with (N,) labels, got {tuple(self.images.shape)} and "
                f"{tuple(self.labels.shape)}"
            )


class KnnEvaluator:
    """Implements ``ssl_engine.trainer.EpochEvaluator``: metrics ``knn_top1``, ``knn_seconds``."""

    def __init__(
        self,
        bank: LabeledImages,
        queries: LabeledImages,
        num_classes: int,
        k: int = KNN_K,
        temperature: float = KNN_TEMPERATURE,
    ) -> None:
        self.bank = bank
        self.queries = queries
        self.num_classes = num_classes
        self.k = k
        self.temperature = temperature

    def evaluate(self, method: Method, device: torch.device) -> dict[str, float]:
        started = time.perf_counter()
        bank = embed_uint8(method, self.bank.images, device)  # (N, D)
        queries = embed_uint8(method, self.queries.images, device)  # (Q, D)
        top1 = knn_top1(
            queries,
            self.queries.labels,
            bank,
            self.bank.labels,
            self.num_classes,
            k=self.k,
            temperature=self.temperature,
        )
        return {"knn_top1": top1, "knn_seconds": time.perf_counter() - started}


def hold_out_for_knn(
    images: Images, keys: Sequence[str], labels: Sequence[int], num_classes: int
) -> tuple[LabeledImages, KnnEvaluator | None]:
    """Split a labeled dataset: (the part to train on, an evaluator of the held-out part).

    ``keys`` name the images (relative paths) for ``split.held_out_split``. Both parts are
    ``ImageRows`` of ``images``: row indices into it, never a copy of its pixels (the
    training part is most of a possibly memory-mapped dataset); the loader and the
    evaluator read them batch by batch. The training part doubles as the kNN bank. With
    fewer than two classes (nothing to tell apart) or no image to hold out (single-image
    classes), everything trains and the evaluator is None.
    """
    label_tensor = torch.as_tensor(list(labels), dtype=torch.long)  # (N,)
    if num_classes < 2:
        return LabeledImages(images, label_tensor), None
    split = held_out_split(keys, labels)
    train_rows = torch.as_tensor(split.train, dtype=torch.long)
    rows = as_image_rows(images)
    train = LabeledImages(rows.take(train_rows), label_tensor[train_rows])
    if not split.held_out:
        return train, None
    held_rows = torch.as_tensor(split.held_out, dtype=torch.long)
    queries = LabeledImages(rows.take(held_rows), label_tensor[held_rows])
    return train, KnnEvaluator(bank=train, queries=queries, num_classes=num_classes)
