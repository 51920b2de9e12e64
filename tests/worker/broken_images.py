"""Unreadable image files: random bytes behind an image name, and images cut short."""

from __future__ import annotations

from pathlib import Path

from tests.image_folders import image_bytes


def add_broken_images(folder: Path, count: int) -> list[str]:
    """Write ``count`` broken files into ``folder`` (alternating kinds); returns their names."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        if i % 2:
            name, data = f"broken_{i:02d}.jpg", b"this is not a jpeg" * 8
        else:
            name, data = f"broken_{i:02d}.png", image_bytes(0, seed=i, fmt="PNG")[:60]
        (folder / name).write_bytes(data)
        names.append(name)
    return names


def break_every_image(folder: Path) -> int:
    """Truncate every image under ``folder`` to a few bytes; returns how many."""
    files = [p for p in folder.rglob("*") if p.is_file()]
    for path in files:
        path.write_bytes(path.read_bytes()[:20])
    return len(files)
