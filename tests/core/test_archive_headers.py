"""The cheap header checks refuse costly archive shapes before any stdlib parser reads them."""

from __future__ import annotations

import io
import struct
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from api.core.archive import ArchiveLimits, UnsafeArchiveError
from api.core.archive_headers import MAX_DIGIT_RUN, check_archive_headers

LIMITS = ArchiveLimits(
    max_members=1000, max_member_bytes=1 << 20, max_total_bytes=1 << 24, max_ratio=100.0
)


def tar_with_pax(tmp_path: Path, value: str) -> Path:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("a/x.png")
        info.size = 3
        info.pax_headers = {"comment": value}
        tar.addfile(info, io.BytesIO(b"png"))
    path = tmp_path / "pax.tar"
    path.write_bytes(buffer.getvalue())
    return path


def refused_code(path: Path, limits: ArchiveLimits = LIMITS) -> str:
    with pytest.raises(UnsafeArchiveError) as refused:
        check_archive_headers(path, limits)
    return refused.value.code


@pytest.mark.parametrize("digits", [40_000, 1_000_000], ids=["digit_run", "oversize"])
def test_a_pax_header_of_digits_is_refused_at_once(tmp_path: Path, digits: int) -> None:
    """CVE-2024-6232: tarfile's pax parsing is quadratic on long digit runs (40,000 digits
    took 2.3 s); the check reads the header once and refuses the run (or its size)."""
    path = tar_with_pax(tmp_path, "7" * digits)
    started = time.process_time()
    assert refused_code(path) == "invalid_archive"
    assert time.process_time() - started < 1.0  # linear: well under tarfile's minutes


def test_a_normal_pax_header_passes(tmp_path: Path) -> None:
    check_archive_headers(tar_with_pax(tmp_path, "9" * MAX_DIGIT_RUN + " ok"), LIMITS)


def tar_block(name: bytes, size_field: bytes, kind: bytes) -> bytes:
    header = bytearray(512)
    header[0 : len(name)] = name
    header[100:108] = b"0000644\0"
    header[124:136] = size_field
    header[156:157] = kind
    header[148:156] = b" " * 8
    checksum = sum(header)
    header[148:156] = f"{checksum:06o}\0 ".encode()
    return bytes(header)


@pytest.mark.parametrize(
    ("size_field", "kind"),
    [
        (b"\xff" * 12, b"0"),  # base-256 negative size (CVE-2025-8194's loop)
        (b"00000000000\0", b"S"),  # GNU sparse member
        (b"12x45678901\0", b"0"),  # not a number
    ],
    ids=["negative_size", "sparse", "garbled_size"],
)
def test_malformed_tar_headers_are_refused(tmp_path: Path, size_field: bytes, kind: bytes) -> None:
    path = tmp_path / "bad.tar"
    path.write_bytes(tar_block(b"a/x.png", size_field, kind) + bytes(1024))
    assert refused_code(path) == "invalid_archive"


def test_a_zip_listing_more_entries_than_allowed_is_refused_from_its_end_record(
    tmp_path: Path,
) -> None:
    """Only the end record is read: 200,001 entries cost 5.4 s and 94 MB in zipfile."""
    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("a/x.png", b"png")
    data = bytearray(path.read_bytes())
    end = data.rfind(b"PK\x05\x06")
    struct.pack_into("<2H", data, end + 8, 0xFFFE, 0xFFFE)  # entries on disk, in all
    path.write_bytes(bytes(data))
    assert refused_code(path) == "archive_too_many_members"


def test_too_many_tar_members_and_expansion_are_refused(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for i in range(5):
            info = tarfile.TarInfo(f"a/{i}.png")
            data = bytes(64 << 10)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "five.tar.gz"
    path.write_bytes(buffer.getvalue())
    few = ArchiveLimits(
        max_members=3, max_member_bytes=1 << 20, max_total_bytes=1 << 24, max_ratio=1000.0
    )
    assert refused_code(path, few) == "archive_too_many_members"
    tight = ArchiveLimits(
        max_members=10, max_member_bytes=1 << 20, max_total_bytes=1 << 24, max_ratio=2.0
    )
    assert refused_code(path, tight) == "archive_ratio"
    check_archive_headers(path, LIMITS)
