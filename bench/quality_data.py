"""CIFAR-10 for the quality benchmark: held-out split, training subset, shared by both envs.

The split is the product's own (``ssl_engine.evaluation.split``): 10 % of each class,
i.e. 500 of CIFAR-10's 5,000 training images per class, ranked by a hash of the file
path, so the held-out images are never trained on by any run, ours or the peer's. The
training subset takes ``train_per_class`` images per class from the rest in a seeded
order; both processes of a benchmark run build exactly the same tensors.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.scan import scan_image_folder
from ssl_engine.evaluation.online import LabeledImages
from ssl_engine.evaluation.split import held_out_split

SUBSET_SEED = 0


@dataclass(frozen=True)
class BenchData:
    train: LabeledImages  # the training subset; also the kNN bank
    held_out: LabeledImages  # kNN queries
    classes: list[str]


def _per_class(rows: list[int], labels: list[int], count: int, seed: int) -> list[int]:
    """The first ``count`` rows of each class in a seeded order, sorted."""
    order = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed)).tolist()
    taken: dict[int, int] = {}
    chosen = []
    for index in order:
        row = rows[index]
        if taken.get(labels[row], 0) < count:
            taken[labels[row]] = taken.get(labels[row], 0) + 1
            chosen.append(row)
    return sorted(chosen)


def _labeled(images: torch.Tensor, labels: list[int], rows: list[int]) -> LabeledImages:
    index = torch.tensor(rows, dtype=torch.long)
    return LabeledImages(images.index_select(0, index), torch.tensor(labels)[index])


def load_bench_data(
    root: Path, cache_dir: Path, *, train_per_class: int, eval_per_class: int, image_size: int
) -> BenchData:
    """Decode ``root`` once (cached), hold out 10 % per class, subsample both parts."""
    scan = scan_image_folder(root)
    if scan.labels is None:
        raise SystemExit(f"{root} is not a class-folder dataset")
    cached = build_uint8_cache(root, scan.files, image_size, cache_dir)
    files, labels = cached.select(scan.files), cached.select(scan.labels)
    split = held_out_split(files, labels)
    train_rows = _per_class(split.train, labels, train_per_class, SUBSET_SEED)
    eval_rows = _per_class(split.held_out, labels, eval_per_class, SUBSET_SEED)
    return BenchData(
        train=_labeled(cached.images, labels, train_rows),
        held_out=_labeled(cached.images, labels, eval_rows),
        classes=scan.classes,
    )
