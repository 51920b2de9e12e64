"""Extracting uploaded image archives: hostile archives are refused and leave nothing behind."""

from __future__ import annotations

import bz2
import io
import stat
import struct
import tarfile
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import pytest

from api.core import archive as archive_module
from api.core.archive import (
    ArchiveLimits,
    UnsafeArchiveError,
    archive_kind,
    extract_images,
)
from tests.image_folders import image_bytes

LIMITS = ArchiveLimits(
    max_members=100, max_member_bytes=1 << 20, max_total_bytes=4 << 20, max_ratio=100.0
)
PNG = image_bytes(0, seed=1, fmt="PNG")
JPEG = image_bytes(1, seed=2, fmt="JPEG")


# --- Building archives ------------------------------------------------------------------


def make_zip(path: Path, members: dict[str, bytes], *, mode: int | None = None) -> Path:
    """A deflated zip; ``mode`` sets the unix mode bits of every member."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            if mode is not None:
                info.create_system = 3
                info.external_attr = mode << 16
            zf.writestr(info, data)
    return path


def file_info(name: str, data: bytes = b"") -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info, io.BytesIO(data)


def special_info(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    return info


def make_tar(
    path: Path,
    members: dict[str, bytes],
    *,
    extra: Sequence[tarfile.TarInfo] = (),
    mode: str = "w:gz",
    fmt: int = tarfile.PAX_FORMAT,
) -> Path:
    with tarfile.open(path, mode, format=fmt) as tar:  # type: ignore[call-overload]
        for info in extra:
            tar.addfile(info)
        for name, data in members.items():
            tar.addfile(*file_info(name, data))
    return path


def snapshot(root: Path) -> set[Path]:
    return set(root.rglob("*"))


def assert_refused(
    archive: Path, tmp_path: Path, code: str, limits: ArchiveLimits = LIMITS
) -> UnsafeArchiveError:
    """Extraction raises ``code``, removes its folder and writes nothing anywhere else."""
    dest = tmp_path / "uploads" / "one" / "dest"
    before = snapshot(tmp_path)
    with pytest.raises(UnsafeArchiveError) as caught:
        extract_images(archive, dest, limits)
    assert caught.value.code == code, caught.value
    assert not dest.exists()
    # Only the parents extract_images created may remain: empty folders, no files.
    created = snapshot(tmp_path) - before
    assert all(p.is_dir() for p in created), created
    assert not (tmp_path.parent / "evil.png").exists()
    assert not Path("/evil.png").exists()
    return caught.value


# --- Paths that leave the folder -------------------------------------------------------


def test_zip_slip_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"ok.png": PNG, "../evil.png": PNG})
    assert_refused(archive, tmp_path, "archive_traversal")


@pytest.mark.parametrize(
    "name", ["a/../../evil.png", "a/b/../../../evil.png", "../../../../../../evil.png"]
)
def test_tar_traversal_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_tar(tmp_path / "up.tar.gz", {"a/ok.png": PNG, name: PNG})
    assert_refused(archive, tmp_path, "archive_traversal")


@pytest.mark.parametrize("name", ["..\\evil.png", "a\\..\\..\\evil.png", "a/..\\..\\evil.png"])
def test_backslash_traversal_is_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "up.zip", {name: PNG})
    assert_refused(archive, tmp_path, "archive_traversal")


def test_traversal_in_a_skipped_member_still_refuses_the_archive(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "up.tar", {"ok.png": PNG, "../notes.txt": b"x"}, mode="w")
    assert_refused(archive, tmp_path, "archive_traversal")


@pytest.mark.parametrize(
    "name", ["/evil.png", "//evil.png", "C:\\evil.png", "c:evil.png", "\\\\server\\share\\evil.png"]
)
def test_absolute_zip_paths_are_refused(tmp_path: Path, name: str) -> None:
    archive = make_zip(tmp_path / "up.zip", {"ok.png": PNG, name: PNG})
    assert zipfile.ZipFile(archive).namelist()[1] == name  # stored as written
    assert_refused(archive, tmp_path, "archive_absolute_path")


def test_absolute_tar_path_is_refused(tmp_path: Path) -> None:
    absolute = str(tmp_path.parent / "evil.png")
    archive = make_tar(tmp_path / "up.tar.gz", {absolute: PNG})
    assert_refused(archive, tmp_path, "archive_absolute_path")


# --- Links and special files ------------------------------------------------------------


@pytest.mark.parametrize("target", ["/etc/passwd", "../../../..", "inside.png"])
def test_tar_symlink_is_refused(tmp_path: Path, target: str) -> None:
    link = special_info("link", tarfile.SYMTYPE, target)
    archive = make_tar(tmp_path / "up.tar.gz", {"link/evil.png": PNG}, extra=[link])
    assert_refused(archive, tmp_path, "archive_link")


def test_tar_hardlink_is_refused(tmp_path: Path) -> None:
    link = special_info("evil.png", tarfile.LNKTYPE, "/etc/passwd")
    archive = make_tar(tmp_path / "up.tar.gz", {"ok.png": PNG}, extra=[link])
    assert_refused(archive, tmp_path, "archive_link")


def test_zip_symlink_is_refused(tmp_path: Path) -> None:
    archive = make_zip(
        tmp_path / "up.zip", {"evil.png": str(tmp_path.parent).encode()}, mode=stat.S_IFLNK | 0o777
    )
    assert_refused(archive, tmp_path, "archive_link")


@pytest.mark.parametrize("kind", [tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.FIFOTYPE])
def test_tar_device_and_fifo_members_are_refused(tmp_path: Path, kind: bytes) -> None:
    device = special_info("dev.png", kind)
    archive = make_tar(tmp_path / "up.tar", {"ok.png": PNG}, extra=[device], mode="w")
    assert_refused(archive, tmp_path, "archive_special_file")


def test_zip_fifo_mode_bits_are_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"pipe.png": b""}, mode=stat.S_IFIFO | 0o644)
    assert_refused(archive, tmp_path, "archive_special_file")


# --- Sizes: bombs, lying headers, limits ----------------------------------------------


def test_zip_bomb_is_refused_by_ratio(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "bomb.zip", {"bomb.png": bytes(20 << 20)})
    assert archive.stat().st_size < 100_000
    limits = ArchiveLimits(
        max_members=10, max_member_bytes=1 << 30, max_total_bytes=1 << 30, max_ratio=100.0
    )
    assert_refused(archive, tmp_path, "archive_ratio", limits)


def test_skipped_members_count_for_the_ratio(tmp_path: Path) -> None:
    archive = make_tar(tmp_path / "bomb.tar.xz", {"zeros.bin": bytes(20 << 20)}, mode="w:xz")
    assert_refused(archive, tmp_path, "archive_ratio")


def lie_about_size(path: Path, size: int, crc: int | None = None) -> None:
    """Patch a one-member zip so both headers declare ``size`` uncompressed bytes."""
    data = bytearray(path.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    assert data.startswith(b"PK\x03\x04") and central > 0
    struct.pack_into("<I", data, 22, size)  # local header: uncompressed size
    struct.pack_into("<I", data, central + 24, size)  # central directory
    if crc is not None:
        struct.pack_into("<I", data, 14, crc)
        struct.pack_into("<I", data, central + 16, crc)
    path.write_bytes(bytes(data))


def test_zip_header_that_lies_about_the_size_is_refused(tmp_path: Path) -> None:
    real = PNG * 4000  # about 3 MB, compresses well; declared as 100 bytes
    archive = make_zip(tmp_path / "liar.zip", {"liar.png": real})
    lie_about_size(archive, 100)
    assert zipfile.ZipFile(archive).getinfo("liar.png").file_size == 100
    assert_refused(archive, tmp_path, "invalid_archive")


def test_lying_header_with_matching_crc_never_yields_more_than_declared(tmp_path: Path) -> None:
    real = PNG * 4000
    archive = make_zip(tmp_path / "liar.zip", {"liar.png": real})
    lie_about_size(archive, 100, crc=zlib.crc32(real[:100]))
    report = extract_images(archive, tmp_path / "dest", LIMITS)
    assert report.bytes_written == 100
    assert (tmp_path / "dest" / "liar.png").read_bytes() == real[:100]


@pytest.mark.parametrize(
    ("limits", "code"),
    [
        (ArchiveLimits(100, 5000, 1 << 30, 1e9), "archive_member_too_large"),
        (ArchiveLimits(100, 1 << 30, 5000, 1e9), "archive_too_large"),
        (ArchiveLimits(100, 1 << 30, 1 << 30, 2.0), "archive_ratio"),
    ],
)
def test_sizes_are_also_counted_while_writing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limits: ArchiveLimits, code: str
) -> None:
    # Without the up-front check on declared sizes, the copy loop alone must stop.
    monkeypatch.setattr(archive_module, "_check_declared", lambda *args: None)
    archive = make_zip(tmp_path / "up.zip", {"a.png": PNG, "big.png": bytes(200_000)})
    assert_refused(archive, tmp_path, code, limits)


@pytest.mark.parametrize(
    ("member", "total", "code"),
    [
        (len(PNG) - 1, 1 << 30, "archive_member_too_large"),
        (len(PNG), 2 * len(PNG), "archive_too_large"),
    ],
)
def test_declared_sizes_are_checked_before_anything_is_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, member: int, total: int, code: str
) -> None:
    def no_copy(*args: object) -> None:
        raise AssertionError("a member was copied before the headers were checked")

    monkeypatch.setattr(archive_module, "_copy", no_copy)
    archive = make_tar(tmp_path / "up.tar.gz", {f"{i}.png": PNG for i in range(3)})
    assert_refused(archive, tmp_path, code, ArchiveLimits(100, member, total, 1e9))


def test_oversize_total_is_refused(tmp_path: Path) -> None:
    members = {f"img/{i:02d}.png": PNG for i in range(20)}
    limits = ArchiveLimits(100, 1 << 20, 10 * len(PNG), 100.0)
    assert_refused(make_zip(tmp_path / "up.zip", members), tmp_path, "archive_too_large", limits)


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_too_many_members_are_refused(tmp_path: Path, fmt: str) -> None:
    members = {f"{i}.png": PNG for i in range(11)}
    path = tmp_path / f"up.{fmt}"
    archive = make_zip(path, members) if fmt == "zip" else make_tar(path, members)
    limits = ArchiveLimits(10, 1 << 20, 1 << 30, 100.0)
    assert_refused(archive, tmp_path, "archive_too_many_members", limits)


def test_folder_members_count_as_members(tmp_path: Path) -> None:
    folders = [special_info(f"d{i}", tarfile.DIRTYPE) for i in range(10)]
    archive = make_tar(tmp_path / "up.tar", {"a.png": PNG}, extra=folders, mode="w")
    limits = ArchiveLimits(10, 1 << 20, 1 << 30, 100.0)
    assert_refused(archive, tmp_path, "archive_too_many_members", limits)


def test_huge_tar_header_is_refused_without_reading_it(tmp_path: Path) -> None:
    # A 20 MB pax record compresses to a few KB: it must not be read into memory.
    info, data = file_info("a.png", PNG)
    info.pax_headers = {"comment": "x" * (20 << 20)}
    with tarfile.open(tmp_path / "up.tar.gz", "w:gz", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(info, data)
    limits = ArchiveLimits(10, 1 << 20, 1 << 30, 1e6)
    error = assert_refused(tmp_path / "up.tar.gz", tmp_path, "invalid_archive", limits)
    assert "16 MiB" in str(error)


def test_many_large_tar_headers_hit_the_ratio(tmp_path: Path) -> None:
    with tarfile.open(tmp_path / "up.tar.gz", "w:gz", format=tarfile.PAX_FORMAT) as tar:
        for i in range(4):
            info, data = file_info(f"{i}.png", PNG)
            info.pax_headers = {"comment": "x" * (4 << 20)}
            tar.addfile(info, data)
    assert_refused(tmp_path / "up.tar.gz", tmp_path, "archive_ratio")


# --- Not archives, corrupt archives, other refusals -----------------------------------


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not an archive\n" * 100, PNG, b"PK\x03\x04garbage", b"\x1f\x8bnope"],
)
def test_non_archive_bytes_are_invalid(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "up.zip"
    path.write_bytes(content)
    assert archive_kind(path) is None or content.startswith(b"PK")
    assert_refused(path, tmp_path, "invalid_archive")


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.bz2", "tar"])
@pytest.mark.parametrize("extra", [0, 100])  # 0: a tar is cut at a block boundary
def test_truncated_archives_are_invalid(tmp_path: Path, fmt: str, extra: int) -> None:
    members = {f"{i}.png": image_bytes(i % 4, seed=i, size=64) for i in range(8)}
    path = tmp_path / f"full.{fmt}"
    if fmt == "zip":
        make_zip(path, members)
    else:
        make_tar(path, members, mode="w" if fmt == "tar" else f"w:{fmt.split('.')[1]}")
    cut = tmp_path / f"cut.{fmt}"
    cut.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3 + extra])
    assert_refused(cut, tmp_path, "invalid_archive")


def test_garbage_after_a_tar_member_is_invalid(tmp_path: Path) -> None:
    full = make_tar(tmp_path / "full.tar", {"a.png": PNG}, mode="w")
    data = full.read_bytes()
    end = data.rindex(b"IEND") + 8  # end of the PNG data
    end += -end % 512  # the next header block
    bad = tmp_path / "bad.tar"
    bad.write_bytes(data[:end] + b"garbage, not a header" * 30 + data[end + 630 :])
    assert_refused(bad, tmp_path, "invalid_archive")


def test_corrupt_member_data_is_invalid(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"a.png": PNG * 50})
    data = bytearray(archive.read_bytes())
    data[100:140] = bytes(40)  # inside the deflated data of the only member
    archive.write_bytes(bytes(data))
    assert_refused(archive, tmp_path, "invalid_archive")


def test_zip_name_flagged_utf8_that_is_not_is_invalid(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"a.png": PNG})
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 9] |= 0x08  # flag bit 11: the name is UTF-8
    data[central + 46] = 0xFF  # first byte of the name
    archive.write_bytes(bytes(data))
    assert_refused(archive, tmp_path, "invalid_archive")


def test_duplicate_names_are_refused(tmp_path: Path) -> None:
    members = [("a/x.png", PNG), ("./a//x.png", JPEG)]  # the same file once normalised
    with tarfile.open(tmp_path / "up.tar", "w") as tar:
        for name, data in members:
            tar.addfile(*file_info(name, data))
    assert_refused(tmp_path / "up.tar", tmp_path, "invalid_archive")


def test_an_image_where_a_folder_is_needed_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"a.png": PNG, "a.png/b.png": PNG})
    assert_refused(archive, tmp_path, "invalid_archive")


def test_encrypted_zip_member_is_refused(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"a.png": PNG})
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[6] |= 0x1  # "encrypted" flag, local header and central directory
    data[central + 8] |= 0x1
    archive.write_bytes(bytes(data))
    assert_refused(archive, tmp_path, "invalid_archive")


def test_existing_destination_is_left_alone(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"a.png": PNG})
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        extract_images(archive, dest, LIMITS)
    assert (dest / "keep.txt").read_text() == "mine"


# --- Good archives ----------------------------------------------------------------------

GOOD = {
    "shapes/red/r1.png": PNG,
    "shapes/red/r2.JPG": JPEG,
    "shapes/blue/deep/b1.jpeg": JPEG,
    "top.PNG": PNG,
    "shapes/readme.txt": b"not an image",
    "shapes/red/.hidden.png": PNG,
    ".git/objects/x.png": PNG,
    "__MACOSX/shapes/red/._r1.png": b"resource fork",
}
WRITTEN = {"shapes/red/r1.png", "shapes/red/r2.JPG", "shapes/blue/deep/b1.jpeg", "top.PNG"}
SKIPPED = set(GOOD) - WRITTEN


def assert_extracted(dest: Path, report_images: int) -> None:
    files = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert files == WRITTEN
    assert report_images == len(WRITTEN)
    for name in WRITTEN:
        assert (dest / name).read_bytes() == GOOD[name]


def test_good_nested_zip_keeps_folders_and_skips_non_images(tmp_path: Path) -> None:
    members = {"shapes/": b"", "shapes/red/": b"", **GOOD}
    archive = make_zip(tmp_path / "upload.bin", members)
    assert archive_kind(archive) == "zip"
    report = extract_images(archive, tmp_path / "out" / "dest", LIMITS)
    assert_extracted(tmp_path / "out" / "dest", report.images)
    assert set(report.skipped) == SKIPPED
    assert report.skipped_count == len(SKIPPED)
    assert report.bytes_written == sum(len(GOOD[n]) for n in WRITTEN)


@pytest.mark.parametrize("mode", ["w:gz", "w:bz2", "w:xz", "w"])
def test_good_tar_keeps_folders_and_skips_non_images(tmp_path: Path, mode: str) -> None:
    folder = special_info("./shapes", tarfile.DIRTYPE)
    members = {f"./{name}": data for name, data in GOOD.items()}
    archive = make_tar(tmp_path / "upload.zip", members, extra=[folder], mode=mode)
    assert archive_kind(archive) == "tar"
    report = extract_images(archive, tmp_path / "dest", LIMITS)
    assert_extracted(tmp_path / "dest", report.images)
    assert report.skipped_count == len(SKIPPED)
    assert {name.removeprefix("./") for name in report.skipped} == SKIPPED


def test_gnu_format_tar_with_long_names(tmp_path: Path) -> None:
    long_name = "/".join(["folder" * 10] * 5) + "/image.png"
    archive = make_tar(tmp_path / "up.tgz", {long_name: PNG}, fmt=tarfile.GNU_FORMAT)
    report = extract_images(archive, tmp_path / "dest", LIMITS)
    assert report.images == 1
    assert (tmp_path / "dest" / long_name).read_bytes() == PNG


def test_backslash_separators_make_folders(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "up.zip", {"win\\sub\\a.png": PNG})
    report = extract_images(archive, tmp_path / "dest", LIMITS)
    assert report.images == 1
    assert (tmp_path / "dest" / "win" / "sub" / "a.png").read_bytes() == PNG


def test_skipped_names_are_capped_but_counted(tmp_path: Path) -> None:
    members = {f"notes/{i}.txt": b"x" for i in range(150)}
    archive = make_zip(tmp_path / "up.zip", {**members, "a.png": PNG})
    limits = ArchiveLimits(200, 1 << 20, 1 << 30, 100.0)
    report = extract_images(archive, tmp_path / "dest", limits)
    assert (report.images, report.skipped_count, len(report.skipped)) == (1, 150, 100)


def test_empty_zip_extracts_nothing(tmp_path: Path) -> None:
    archive = make_zip(tmp_path / "empty.zip", {})
    report = extract_images(archive, tmp_path / "dest", LIMITS)
    assert (report.images, report.skipped_count, report.bytes_written) == (0, 0, 0)
    assert list((tmp_path / "dest").iterdir()) == []


def test_bz2_bytes_that_are_not_a_tar_are_not_an_archive(tmp_path: Path) -> None:
    path = tmp_path / "up.tar.bz2"
    path.write_bytes(bz2.compress(b"plain text, no tar header" * 100))
    assert archive_kind(path) is None
    assert_refused(path, tmp_path, "invalid_archive")
