"""Cheap header checks of an uploaded archive, before any standard-library parser reads it.

Python's own readers have had costly corners (tarfile's pax header parsing is quadratic on
long digit runs; a GNU sparse header with a negative size made it loop; a zip's central
directory is read whole before any member is refused). The ingest child process runs
under CPU, memory and wall-time limits whatever happens, and these checks refuse the known
shapes first, in one linear pass of our own:

* zip: the end-of-central-directory record (zip64 too) gives the entry count and the
  directory's size; more entries than ``max_members`` or a directory over
  ``MAX_ZIP_DIRECTORY_BYTES`` is refused before ``zipfile`` reads it.
* tar (plain, gzip, bzip2, xz): every 512-byte header is read in turn and the member data
  skipped. Refused: a size field that is negative or not a number, a pax header over
  ``MAX_PAX_BYTES`` or with a run of more than ``MAX_DIGIT_RUN`` digits, GNU long names
  over ``MAX_LONG_NAME_BYTES``, sparse members (type ``S`` or ``GNU.sparse`` pax keys: an
  image is never sparse), more members than ``max_members``, and a stream that expands
  past the ratio limit.
"""

from __future__ import annotations

import re
import struct
import tarfile
from contextlib import closing
from pathlib import Path
from typing import BinaryIO, Protocol

from api.core.archive import (
    ArchiveErrorCode,
    ArchiveLimits,
    UnsafeArchiveError,
    archive_kind,
    decompressed,
)

MAX_ZIP_DIRECTORY_BYTES = 256 << 20
MAX_PAX_BYTES = 64 << 10
MAX_LONG_NAME_BYTES = 64 << 10
MAX_DIGIT_RUN = 64
_BLOCK = tarfile.BLOCKSIZE
_SKIP_CHUNK = 1 << 20
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_DIGIT_RUN = re.compile(rb"\d{%d,}" % (MAX_DIGIT_RUN + 1))
_HEADER_ROOM = 2048  # tar bytes allowed per member on top of its data (as the extractor)


def check_archive_headers(archive: Path, limits: ArchiveLimits) -> None:
    """Refuse ``archive`` (``UnsafeArchiveError``) on a header shape known to be costly."""
    kind = archive_kind(archive)
    if kind is None:
        raise UnsafeArchiveError("invalid_archive", "not a zip or tar archive")
    if kind == "zip":
        _check_zip_directory(archive, limits)
    else:
        _check_tar_headers(archive, limits)


def _refuse(message: str, code: ArchiveErrorCode = "invalid_archive") -> UnsafeArchiveError:
    return UnsafeArchiveError(code, message)


# --- zip ---------------------------------------------------------------------------------


def _check_zip_directory(archive: Path, limits: ArchiveLimits) -> None:
    size = archive.stat().st_size
    with archive.open("rb") as raw:
        tail_start = max(0, size - (_EOCD.size + 0xFFFF))
        raw.seek(tail_start)
        tail = raw.read()
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or len(tail) - at < _EOCD.size:
            raise _refuse("zip without an end-of-central-directory record")
        fields = _EOCD.unpack_from(tail, at)
        entries, directory_bytes = fields[4], fields[5]
        if entries == 0xFFFF or directory_bytes == 0xFFFFFFFF:
            entries, directory_bytes = _zip64_counts(raw, tail_start + at)
    if entries > limits.max_members:
        raise _refuse(
            f"archive lists {entries} entries, over the limit of {limits.max_members}",
            "archive_too_many_members",
        )
    if directory_bytes > MAX_ZIP_DIRECTORY_BYTES:
        raise _refuse(f"zip central directory of {directory_bytes} bytes")


def _zip64_counts(raw: BinaryIO, eocd_offset: int) -> tuple[int, int]:
    locator_at = eocd_offset - _ZIP64_LOCATOR.size
    if locator_at < 0:
        raise _refuse("zip64 record missing")
    raw.seek(locator_at)
    signature, _disk, record_at, _disks = _ZIP64_LOCATOR.unpack(raw.read(_ZIP64_LOCATOR.size))
    if signature != b"PK\x06\x07":
        raise _refuse("zip64 locator missing")
    raw.seek(record_at)
    record = raw.read(_ZIP64_EOCD.size)
    if len(record) < _ZIP64_EOCD.size or record[:4] != b"PK\x06\x06":
        raise _refuse("zip64 record missing")
    fields = _ZIP64_EOCD.unpack(record)
    return int(fields[7]), int(fields[8])  # total entries, directory size


# --- tar ---------------------------------------------------------------------------------


def _check_tar_headers(archive: Path, limits: ArchiveLimits) -> None:
    cap = int(limits.max_ratio * max(archive.stat().st_size, 1))
    cap += _HEADER_ROOM * limits.max_members + (64 << 10)
    with archive.open("rb") as raw, closing(decompressed(raw)) as stream:
        walker = _TarWalker(stream, cap)
        members, zero_blocks = 0, 0
        while zero_blocks < 2:
            block = walker.read(_BLOCK)
            if len(block) < _BLOCK:
                raise _refuse("tar cut short before its end-of-archive blocks")
            if block == bytes(_BLOCK):
                zero_blocks += 1
                continue
            zero_blocks = 0
            kind, size = _header(block)
            if kind in (b"x", b"g"):
                _check_pax(walker.read_member(size, MAX_PAX_BYTES, "pax header"))
                continue
            if kind in (b"L", b"K"):
                walker.read_member(size, MAX_LONG_NAME_BYTES, "GNU long name")
                continue
            if kind == b"S":
                raise _refuse("sparse tar member (an image is never sparse)")
            members += 1
            if members > limits.max_members:
                raise _refuse(
                    f"archive has over {limits.max_members} members", "archive_too_many_members"
                )
            walker.skip(size)


def _header(block: bytes) -> tuple[bytes, int]:
    """The type flag and the size of a tar header block."""
    field = block[124:136]
    if field[0] & 0x80:  # base-256: the sign bit is the next one
        if field[0] & 0x40:
            raise _refuse("tar header with a negative size")
        size = int.from_bytes(bytes([field[0] & 0x3F]) + field[1:], "big")
    else:
        text = field.split(b"\0", 1)[0].strip()
        if text and not re.fullmatch(rb"[0-7]+", text):
            raise _refuse("tar header with a size that is not a number")
        size = int(text, 8) if text else 0
    return block[156:157], size


def _check_pax(record: bytes) -> None:
    if _DIGIT_RUN.search(record):
        raise _refuse(f"pax header with a run of over {MAX_DIGIT_RUN} digits")
    if b"GNU.sparse" in record:
        raise _refuse("sparse tar member (an image is never sparse)")


class Readable(Protocol):
    def read(self, size: int, /) -> bytes: ...


class _TarWalker:
    """Reads a (decompressed) tar stream forward, refusing to expand past ``cap`` bytes."""

    def __init__(self, stream: Readable, cap: int) -> None:
        self._stream = stream
        self._cap = cap
        self._read = 0

    def read(self, size: int) -> bytes:
        data = self._stream.read(size)
        self._read += len(data)
        if self._read > self._cap:
            raise _refuse("archive expands too much (bomb?)", "archive_ratio")
        return data

    def read_member(self, size: int, limit: int, what: str) -> bytes:
        if size > limit:
            raise _refuse(f"{what} of {size} bytes, over {limit}")
        data = self.read(_padded(size))
        if len(data) < _padded(size):
            raise _refuse("tar cut short inside a header")
        return data[:size]

    def skip(self, size: int) -> None:
        left = _padded(size)
        while left > 0:
            chunk = self.read(min(left, _SKIP_CHUNK))
            if not chunk:
                raise _refuse("tar cut short inside a member")
            left -= len(chunk)


def _padded(size: int) -> int:
    return -(-size // _BLOCK) * _BLOCK
