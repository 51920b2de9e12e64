"""A deterministic, stratified held-out split of a labeled image folder.

Within each class, files are ranked by a hash of their path (relative to the dataset
root) and the first ``fraction`` of them are held out. The split is therefore:

* deterministic: a function of the paths and labels only, not of file order, seeds or
  the machine, so the worker that trains and the worker that evaluates agree on it;
* stratified: every class keeps the same share of held-out images (at least one when it
  has two or more images, and never all of them);
* stable: adding or removing a file changes the held-out set of its own class only,
  by at most two files.

The trainer never sees the held-out images (docs/architecture.md: labels are for evaluation only).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

HELD_OUT_FRACTION = 0.1  # CIFAR-10: 500 of each class's 5,000 training images
SPLIT_SALT = "sslpt-held-out-v1"  # changing it would reshuffle every split: don't


@dataclass(frozen=True)
class HeldOutSplit:
    """Positions (ascending) into the sequences given to ``held_out_split``."""

    train: list[int]
    held_out: list[int]


def _rank_key(key: str) -> bytes:
    return hashlib.sha256(f"{SPLIT_SALT}\0{key}".encode()).digest()


def _held_out_count(class_size: int, fraction: float, max_per_class: int | None) -> int:
    if class_size < 2:
        return 0  # a lone image trains; there is nothing to compare it with anyway
    count = min(max(round(fraction * class_size), 1), class_size - 1)
    return count if max_per_class is None else min(count, max_per_class)


def held_out_split(
    keys: Sequence[str],
    labels: Sequence[int],
    fraction: float = HELD_OUT_FRACTION,
    max_per_class: int | None = None,
) -> HeldOutSplit:
    """Split items (identified by unique ``keys``, e.g. relative paths) per class.

    Raises ValueError for mismatched lengths, duplicate keys or a fraction outside (0, 1).
    """
    if len(keys) != len(labels):
        raise ValueError(f"{len(keys)} keys but {len(labels)} labels")
    if len(set(keys)) != len(keys):
        raise ValueError("keys must be unique")
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be in (0, 1), got {fraction}")
    if max_per_class is not None and max_per_class < 0:
        raise ValueError(f"max_per_class must be >= 0, got {max_per_class}")
    by_class: dict[int, list[int]] = {}
    for position, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(position)
    held_out: list[int] = []
    for members in by_class.values():
        ranked = sorted(members, key=lambda position: _rank_key(keys[position]))
        held_out.extend(ranked[: _held_out_count(len(members), fraction, max_per_class)])
    held = set(held_out)
    train = [position for position in range(len(keys)) if position not in held]
    return HeldOutSplit(train=train, held_out=sorted(held_out))
