"""build_uint8_cache: same pixels as decoding on the fly, reuse, rebuild, skipped files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import torch

import ssl_engine.data.cache as cache_module
from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.formats import decode_image_bytes, load_square
from tests.engine.data.image_files import write_image, write_truncated

SIZE = 8


def _folder(root: Path) -> list[str]:
    write_image(root / "a.png", 12, 10, seed=1)
    write_image(root / "b.jpg", 9, 21, mode="L", seed=2)
    write_image(root / "c.png", 8, 8, mode="RGBA", seed=3)
    write_image(root / "d.webp", 30, 17, mode="P", seed=4)
    return ["a.png", "b.jpg", "c.png", "d.webp"]


def test_cache_equals_decoding_each_file(tmp_path: Path) -> None:
    root, files = tmp_path / "data", _folder(tmp_path / "data")
    cached = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    assert cached.images.shape == (4, 3, SIZE, SIZE) and cached.images.dtype == torch.uint8
    assert cached.kept == [0, 1, 2, 3] and cached.failed == []
    for row, name in enumerate(files):
        assert np.array_equal(cached.images[row].numpy(), load_square(root / name, SIZE))
        served = decode_image_bytes((root / name).read_bytes(), SIZE)  # the serving path
        assert torch.equal(cached.images[row].float() / 255, served)


def test_second_call_reuses_the_file_without_decoding(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, files = tmp_path / "data", _folder(tmp_path / "data")
    first = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    written_at = first.path.stat().st_mtime_ns

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("the cache was rebuilt")

    monkeypatch.setattr(cache_module, "load_square", no_decoding)
    second = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    assert second.path == first.path
    assert second.path.stat().st_mtime_ns == written_at
    assert torch.equal(second.images, first.images)


def test_changed_file_or_size_builds_a_new_cache(tmp_path: Path) -> None:
    root, files = tmp_path / "data", _folder(tmp_path / "data")
    first = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    write_image(root / "a.png", 12, 10, seed=99)  # new pixels
    stat = (root / "a.png").stat()
    os.utime(root / "a.png", ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    changed = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    assert changed.path != first.path
    assert not torch.equal(changed.images[0], first.images[0])
    assert torch.equal(changed.images[1:], first.images[1:])
    assert build_uint8_cache(root, files, SIZE + 1, tmp_path / "cache").path != changed.path


def test_undecodable_files_are_skipped_and_rows_stay_aligned(tmp_path: Path) -> None:
    root = tmp_path / "data"
    write_image(root / "a.png", seed=1)
    write_truncated(root / "b.png")
    write_image(root / "c.png", seed=3)
    (root / "d.jpg").write_text("not an image")
    files, labels = ["a.png", "b.png", "c.png", "d.jpg"], [10, 11, 12, 13]
    cached = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    assert cached.kept == [0, 2]
    assert [f.path for f in cached.failed] == ["b.png", "d.jpg"]
    assert cached.select(labels) == [10, 12]
    assert np.array_equal(cached.images[1].numpy(), load_square(root / "c.png", SIZE))
    # Reloading the cache restores the same alignment and failures.
    again = build_uint8_cache(root, files, SIZE, tmp_path / "cache")
    assert again.kept == [0, 2] and again.failed == cached.failed


def test_no_temporary_files_are_left_behind(tmp_path: Path) -> None:
    root = tmp_path / "data"
    files = _folder(root)
    write_truncated(root / "bad.png")
    build_uint8_cache(root, [*files, "bad.png"], SIZE, tmp_path / "cache")
    leftovers = sorted(p.suffix for p in (tmp_path / "cache").iterdir())
    assert leftovers == [".json", ".npy"]
