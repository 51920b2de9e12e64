"""Keeping the decoded-image cache within a size budget, and knowing which entries are in use.

An entry is the pair ``<key>.npy`` (the pixels) and ``<key>.json`` (what they were decoded
from, ``root`` included). Using an entry takes a shared ``flock`` on its ``.npy`` for as
long as its images tensor lives and stamps the ``.json``'s modification time (the last
use). Eviction takes the exclusive lock without waiting, so an entry that a running task
holds is never removed; a process that dies drops its locks with it, so a killed worker
holds nothing. The least recently used entries go first, until the cache fits.
"""

from __future__ import annotations

import fcntl
import json
import os
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class CacheEntry:
    images: Path  # <key>.npy
    meta: Path  # <key>.json
    bytes: int
    last_used: float  # the .json's modification time, seconds since the epoch

    def root(self) -> str | None:
        """The resolved folder the entry was decoded from (None for an unreadable entry)."""
        try:
            root = json.loads(self.meta.read_text()).get("root")
        except (OSError, ValueError, AttributeError):
            return None
        return root if isinstance(root, str) else None


def hold(images_path: Path, owner: object) -> None:
    """Mark the entry in use for as long as ``owner`` (its images tensor) lives, and record
    this use. Nothing happens if the entry was removed meanwhile."""
    try:
        handle = open(images_path, "rb")  # noqa: SIM115 - closed when ``owner`` is collected
    except OSError:
        return
    fcntl.flock(handle, fcntl.LOCK_SH)
    weakref.finalize(owner, handle.close)
    os.utime(images_path.with_suffix(".json"))


def entries(cache_dir: Path) -> Iterator[CacheEntry]:
    """Every complete entry of ``cache_dir`` (temporaries and half-removed entries skipped)."""
    for images in Path(cache_dir).glob("*.npy"):
        meta = images.with_suffix(".json")
        try:
            meta_stat, images_stat = meta.stat(), images.stat()
        except OSError:
            continue
        size = meta_stat.st_size + images_stat.st_size
        yield CacheEntry(images=images, meta=meta, bytes=size, last_used=meta_stat.st_mtime)


def remove_unless_held(entry: CacheEntry) -> bool:
    """Remove the entry if no process holds it; True if it is gone."""
    try:
        handle = open(entry.images, "rb")  # noqa: SIM115 - closed below
    except FileNotFoundError:
        return True
    with handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        entry.images.unlink(missing_ok=True)  # the pixels first: a lone .json is a miss
        entry.meta.unlink(missing_ok=True)
    return True


def evict_to_budget(cache_dir: Path, max_bytes: int) -> list[Path]:
    """Remove least recently used entries no process holds until the cache's entries take
    at most ``max_bytes`` (0: no budget); returns the removed entries' ``.npy`` paths."""
    if max_bytes <= 0:
        return []
    found = sorted(entries(cache_dir), key=lambda entry: entry.last_used)
    total = sum(entry.bytes for entry in found)
    removed = []
    for entry in found:
        if total <= max_bytes:
            break
        if remove_unless_held(entry):
            total -= entry.bytes
            removed.append(entry.images)
    return removed


def remove_entries_of(cache_dir: Path, unwanted: Callable[[str], bool]) -> list[Path]:
    """Remove the entries no process holds whose folder (resolved path) is ``unwanted``;
    returns the removed entries' ``.npy`` paths. Entries that do not record their folder
    are left to the budget."""
    removed = []
    for entry in entries(cache_dir):
        root = entry.root()
        if root is not None and unwanted(root) and remove_unless_held(entry):
            removed.append(entry.images)
    return removed
