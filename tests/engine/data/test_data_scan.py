"""scan_image_folder: labels from class folders, recursion, broken files, statistics."""

from __future__ import annotations

from pathlib import Path

import pytest

from ssl_engine.data.scan import SizeStats, scan_image_folder
from tests.engine.data.image_files import write_image, write_truncated


def test_class_folders_give_sorted_classes_and_labels(tmp_path: Path) -> None:
    write_image(tmp_path / "dog" / "b.jpg")
    write_image(tmp_path / "dog" / "a.png")
    write_image(tmp_path / "cat" / "z.png")
    scan = scan_image_folder(tmp_path)
    assert scan.labeled
    assert scan.classes == ["cat", "dog"]
    assert scan.files == ["cat/z.png", "dog/a.png", "dog/b.jpg"]
    assert scan.labels == [0, 1, 1]
    assert scan.unreadable == []


def test_images_at_root_or_nested_deeper_make_it_unlabeled(tmp_path: Path) -> None:
    write_image(tmp_path / "top.png")
    write_image(tmp_path / "a" / "b" / "deep.webp")
    write_image(tmp_path / "a" / "one.bmp")
    scan = scan_image_folder(tmp_path)
    assert not scan.labeled and scan.labels is None and scan.classes == []
    assert scan.files == ["a/b/deep.webp", "a/one.bmp", "top.png"]


def test_one_deeper_image_makes_class_folders_unlabeled(tmp_path: Path) -> None:
    write_image(tmp_path / "cat" / "a.png")
    write_image(tmp_path / "dog" / "puppies" / "b.png")
    scan = scan_image_folder(tmp_path)
    assert scan.labels is None
    assert scan.files == ["cat/a.png", "dog/puppies/b.png"]


def test_hidden_entries_and_other_files_are_ignored(tmp_path: Path) -> None:
    write_image(tmp_path / "cat" / "a.png")
    write_image(tmp_path / "cat" / ".thumb.png")
    write_image(tmp_path / ".cache" / "x.png")
    (tmp_path / "cat" / "notes.txt").write_text("hello")
    (tmp_path / "README.md").write_text("a non-image file at the root keeps it labeled")
    scan = scan_image_folder(tmp_path)
    assert scan.files == ["cat/a.png"]
    assert scan.classes == ["cat"]


def test_unreadable_and_truncated_files_are_reported_not_listed(tmp_path: Path) -> None:
    write_image(tmp_path / "cat" / "good.png")
    write_truncated(tmp_path / "cat" / "cut.png")
    write_truncated(tmp_path / "dog" / "cut.jpg")
    write_image(tmp_path / "dog" / "good.jpg")
    (tmp_path / "dog" / "fake.jpg").write_text("not an image")
    scan = scan_image_folder(tmp_path)
    assert scan.files == ["cat/good.png", "dog/good.jpg"]
    assert scan.labels == [0, 1]
    assert sorted(u.path for u in scan.unreadable) == ["cat/cut.png", "dog/cut.jpg", "dog/fake.jpg"]
    assert all(u.reason for u in scan.unreadable)


def test_size_statistics_and_bytes_cover_readable_images(tmp_path: Path) -> None:
    a = write_image(tmp_path / "a.png", width=10, height=30)
    b = write_image(tmp_path / "b.png", width=20, height=40)
    write_truncated(tmp_path / "c.png")
    scan = scan_image_folder(tmp_path)
    assert scan.width_stats == SizeStats(min=10, max=20, mean=15.0)
    assert scan.height_stats == SizeStats(min=30, max=40, mean=35.0)
    assert scan.total_bytes == a.stat().st_size + b.stat().st_size


def test_grayscale_and_rgba_images_are_readable(tmp_path: Path) -> None:
    write_image(tmp_path / "gray.png", mode="L")
    write_image(tmp_path / "alpha.png", mode="RGBA")
    write_image(tmp_path / "palette.png", mode="P")
    assert scan_image_folder(tmp_path).files == ["alpha.png", "gray.png", "palette.png"]


def test_empty_folder_scans_to_nothing(tmp_path: Path) -> None:
    scan = scan_image_folder(tmp_path)
    assert scan.files == [] and scan.labels is None
    assert scan.width_stats == SizeStats(min=0, max=0, mean=0.0)


def test_missing_root_raises_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a directory"):
        scan_image_folder(tmp_path / "nope")
