"""The decoded-image cache keeps within its budget: least recently used entries go first,
an entry whose images are in use never goes, and entries of one folder can be removed."""

from __future__ import annotations

import gc
import os
from pathlib import Path

from ssl_engine.data.cache import CachedImages, build_uint8_cache
from ssl_engine.data.cache_budget import entries, remove_entries_of
from tests.engine.data.image_files import write_image

SIZE = 16


def _folder(root: Path) -> list[str]:
    for seed in range(3):
        write_image(root / f"{seed}.png", 20, 20, seed=seed)
    return ["0.png", "1.png", "2.png"]


def _entry_bytes(cached: CachedImages) -> int:
    return cached.path.stat().st_size + cached.path.with_suffix(".json").stat().st_size


def _cached_paths(cache: Path) -> set[Path]:
    return {entry.images for entry in entries(cache)}


def _age(cached: CachedImages, seconds_ago: float) -> None:
    """Make the entry look last used ``seconds_ago``."""
    meta = cached.path.with_suffix(".json")
    when = meta.stat().st_mtime - seconds_ago
    os.utime(meta, (when, when))


def _build(tmp_path: Path, name: str, max_cache_bytes: int = 0) -> CachedImages:
    folder = tmp_path / name
    files = _folder(folder) if not folder.exists() else ["0.png", "1.png", "2.png"]
    return build_uint8_cache(
        folder, files, SIZE, tmp_path / "cache", max_cache_bytes=max_cache_bytes
    )


def test_least_recently_used_entries_go_first_and_held_ones_stay(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a, b, c = (_build(tmp_path, name) for name in ("a", "b", "c"))
    budget = 2 * _entry_bytes(a)  # room for two entries
    _age(a, 300)  # a: the oldest use
    _age(b, 200)
    _age(c, 100)
    a_path, b_path, c_path = a.path, b.path, c.path
    del b  # b's images are no longer used by anyone; a's and c's still are
    gc.collect()

    # A fourth entry: b (the least recently used free one) goes; a stays although it is
    # older, because its images are in use. Over budget until a is released.
    d = _build(tmp_path, "d", budget)
    assert _cached_paths(cache) == {a_path, c_path, d.path}

    del a  # a is free now: the next call with the budget removes it
    gc.collect()
    assert _build(tmp_path, "d", budget).path == d.path
    assert _cached_paths(cache) == {c_path, d.path}
    assert not a_path.exists() and not b_path.exists()


def test_reusing_an_entry_makes_it_recent(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a, b = _build(tmp_path, "a"), _build(tmp_path, "b")
    a_path, b_path, size = a.path, b.path, _entry_bytes(a)
    _age(a, 200)
    _age(b, 100)
    del a, b
    gc.collect()
    _build(tmp_path, "a")  # a is used again: now the most recent
    gc.collect()
    c = _build(tmp_path, "c", 2 * size)
    assert _cached_paths(cache) == {a_path, c.path}
    assert not b_path.exists()


def test_no_budget_keeps_everything(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        _build(tmp_path, name, max_cache_bytes=0)
    gc.collect()
    assert len(_cached_paths(tmp_path / "cache")) == 3


def test_entries_of_a_folder_are_removed_unless_held(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    a_small, b = _build(tmp_path, "a"), _build(tmp_path, "b")
    a_large = build_uint8_cache(tmp_path / "a", ["0.png", "1.png", "2.png"], SIZE * 2, cache)
    small_path = a_small.path
    del a_small
    gc.collect()
    a_root = str((tmp_path / "a").resolve())

    removed = remove_entries_of(cache, lambda root: root == a_root)
    assert removed == [small_path]  # the larger one is in use
    assert _cached_paths(cache) == {a_large.path, b.path}
    del a_large
    gc.collect()
    assert len(remove_entries_of(cache, lambda root: root == a_root)) == 1
    assert _cached_paths(cache) == {b.path}
