"""Safe extraction of uploaded image archives (zip, tar, tar.gz / .bz2 / .xz).

An upload is untrusted. ``extract_images`` first reads every member header and rejects
the whole archive on anything unsafe (absolute or ``..`` paths, links, device files, too
many members, declared sizes over the limits), then copies the image members one by one,
in chunks, counting the real bytes, into a folder it creates. Any failure removes that
folder, so a rejected upload leaves nothing behind.

Decisions:

* Archives are recognised by content, never by name: a zip by its leading ``PK``
  signature (a self-extracting file with a prefix is refused), a tar by a valid first
  header block, after gzip / bzip2 / xz decompression chosen by magic bytes.
* Backslashes in member names are path separators (zips made on Windows use them), so a
  ``..`` between backslashes is traversal like any other. Empty and ``.`` parts are
  dropped (``./a/b.png`` is ``a/b.png``).
* Two members that would be written to the same path, or an image where another image
  needs a folder, make the archive ``invalid_archive``: nothing is silently overwritten.
* Only images (``IMAGE_EXTENSIONS``, any case) are written. Other regular files, hidden
  entries (any path part starting with ``.``) and ``__MACOSX/`` are skipped and counted.
  Folders come from the images' paths only; folder members are never created as such.
* ``max_member_bytes`` and ``max_total_bytes`` count the images written. The ratio guard
  counts every file member up front (what the archive claims to expand to), then the
  bytes really written. A member yielding more bytes than its header declares is
  ``invalid_archive``.
* Encrypted zip members and unknown zip compression methods are ``invalid_archive``, and
  so is a tar that does not end with its end-of-archive block (cut short or garbled).
* A compressed tar is read through a guard that refuses to go past the ratio limit (plus
  room for headers) and refuses any single read over 16 MiB, so huge tar headers (pax
  records, GNU long names) cannot exhaust memory or time before a member is seen.
* ``dest`` must not exist (``FileExistsError``, and it is left alone); missing parents
  are created. Files are opened with ``O_EXCL | O_NOFOLLOW`` and every target path is
  resolved and checked to lie inside ``dest``, on top of the name checks.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import os
import re
import shutil
import stat
import tarfile
import zipfile
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import IO, BinaryIO, Literal, Protocol

from ssl_engine.data.formats import is_image_name

ArchiveKind = Literal["zip", "tar"]
ArchiveErrorCode = Literal[
    "archive_traversal",
    "archive_link",
    "archive_special_file",
    "archive_absolute_path",
    "archive_too_many_members",
    "archive_member_too_large",
    "archive_too_large",
    "archive_ratio",
    "invalid_archive",
]
_MemberKind = Literal["file", "dir", "link", "special"]
_Parts = tuple[str, ...]

_CHUNK = 1 << 20  # bytes copied per read
_MAX_READ = 16 << 20  # largest single read from a tar stream: bounds header sizes
_HEADER_ROOM = 2048  # tar stream bytes allowed per member on top of its data
_STREAM_ROOM = 64 << 10  # end-of-archive blocks and record padding
_SKIPPED_LISTED = 100
_MAX_PART_BYTES = 255
_MAX_PATH_BYTES = 4096
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # first member, or an empty archive
_ZIP_METHODS = frozenset(
    {zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA}
)
_SEPARATORS = re.compile(r"[/\\]")
_DRIVE = re.compile(r"^[A-Za-z]:")
_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
# What the stdlib readers raise on corrupt bytes: headers, CRCs, decompressors.
_CORRUPT = (
    zipfile.BadZipFile,
    tarfile.TarError,
    EOFError,
    OSError,
    zlib.error,
    lzma.LZMAError,
    UnicodeDecodeError,  # a zip name flagged UTF-8 that is not
    RuntimeError,
    NotImplementedError,
)


@dataclass(frozen=True)
class ArchiveLimits:
    """What one upload may expand to."""

    max_members: int  # entries in the archive (files, folders, anything)
    max_member_bytes: int  # uncompressed size of one extracted file
    max_total_bytes: int  # uncompressed size of all extracted files
    max_ratio: float  # uncompressed bytes / archive bytes on disk (zip bomb guard)


class UnsafeArchiveError(ValueError):
    """The archive is refused. ``code`` is stable for the API; ``member`` names the culprit."""

    def __init__(self, code: ArchiveErrorCode, message: str, member: str | None = None) -> None:
        super().__init__(message)
        self.code: ArchiveErrorCode = code
        self.member = member


@dataclass(frozen=True)
class ExtractReport:
    """What ``extract_images`` wrote and what it skipped (the first 100 names listed)."""

    images: int
    skipped: list[str]
    skipped_count: int
    bytes_written: int


class _Stream(Protocol):
    def read(self, size: int, /) -> bytes: ...
    def seek(self, offset: int, /) -> int: ...
    def tell(self) -> int: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class _Member:
    """One archive member, described the same way for zip and tar."""

    name: str
    kind: _MemberKind
    size: int  # as declared by the header
    open: Callable[[], IO[bytes]]


@dataclass
class _Plan:
    """The outcome of reading every header: the images to write, in archive order."""

    images: list[tuple[_Parts, _Member]] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    skipped_count: int = 0
    members: int = 0
    declared_all: int = 0  # every file member: the ratio guard
    declared_images: int = 0
    files: set[_Parts] = field(default_factory=set)
    folders: set[_Parts] = field(default_factory=set)

    def skip(self, name: str) -> None:
        self.skipped_count += 1
        if len(self.skipped) < _SKIPPED_LISTED:
            self.skipped.append(name)


@dataclass
class _Meter:
    """Counts the bytes really written and stops at the limits."""

    limits: ArchiveLimits
    archive_bytes: int
    total: int = 0

    def add(self, member: _Member, member_bytes: int, chunk: int) -> None:
        self.total += chunk
        if member_bytes > member.size:
            raise UnsafeArchiveError(
                "invalid_archive", "member is larger than its header says", member.name
            )
        if member_bytes > self.limits.max_member_bytes:
            raise _member_too_large(member.name)
        if self.total > self.limits.max_total_bytes:
            raise _too_large(member.name)
        if self.total > self.limits.max_ratio * self.archive_bytes:
            raise _ratio(member.name)


class _GuardedStream:
    """A read-only view of a (decompressed) tar stream that never goes past ``cap``."""

    def __init__(self, inner: _Stream, cap: int) -> None:
        self._inner = inner
        self._cap = cap
        self._pos = inner.tell()

    def read(self, size: int = -1, /) -> bytes:
        if size < 0 or size > _MAX_READ:
            raise UnsafeArchiveError("invalid_archive", "tar header or block over 16 MiB")
        data = self._inner.read(min(size, self._cap - self._pos + 1))
        self._pos += len(data)
        if self._pos > self._cap:
            raise _ratio(None)
        return data

    def seek(self, pos: int, whence: int = os.SEEK_SET, /) -> int:
        if whence != os.SEEK_SET:
            raise OSError("only absolute seeks are supported")
        if pos > self._cap:
            raise _ratio(None)
        self._pos = self._inner.seek(pos)
        return self._pos

    def tell(self) -> int:
        return self._pos

    def write(self, data: bytes, /) -> int:
        raise OSError("read-only stream")

    def close(self) -> None:
        """The owner of the inner stream closes it."""


def _member_too_large(member: str) -> UnsafeArchiveError:
    return UnsafeArchiveError("archive_member_too_large", "member over the size limit", member)


def _too_large(member: str) -> UnsafeArchiveError:
    return UnsafeArchiveError("archive_too_large", "archive expands over the size limit", member)


def _ratio(member: str | None) -> UnsafeArchiveError:
    return UnsafeArchiveError("archive_ratio", "archive expands too much (bomb?)", member)


def archive_kind(path: Path) -> ArchiveKind | None:
    """``"zip"`` or ``"tar"`` (maybe compressed) from the file's content, else ``None``."""
    with path.open("rb") as raw:
        if raw.read(4) in _ZIP_MAGIC:
            return "zip"
        raw.seek(0)
        return "tar" if _starts_with_tar_header(raw) else None


def extract_images(archive: Path, dest: Path, limits: ArchiveLimits) -> ExtractReport:
    """Write the images of ``archive`` under a new folder ``dest``, keeping their paths.

    Raises ``UnsafeArchiveError`` (after removing ``dest``) when the archive is refused.
    """
    dest.mkdir(parents=True)  # FileExistsError: not ours, so not removed below
    try:
        return _extract(archive, dest.resolve(), limits)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


def _extract(archive: Path, root: Path, limits: ArchiveLimits) -> ExtractReport:
    archive_bytes = max(archive.stat().st_size, 1)
    with _open_members(archive, limits, archive_bytes) as members:
        plan = _plan(members, limits, archive_bytes)
        meter = _Meter(limits, archive_bytes)
        for parts, member in plan.images:
            _copy(member, _target(root, parts, member.name), meter)
    return ExtractReport(
        images=len(plan.images),
        skipped=plan.skipped,
        skipped_count=plan.skipped_count,
        bytes_written=meter.total,
    )


# --- Reading archives ------------------------------------------------------------------


@contextmanager
def _reading(member: str | None) -> Iterator[None]:
    """Turn the readers' errors on corrupt input into ``invalid_archive``."""
    try:
        yield
    except UnsafeArchiveError:
        raise
    except _CORRUPT as exc:
        raise UnsafeArchiveError("invalid_archive", f"corrupt archive: {exc}", member) from exc


def decompressed(raw: BinaryIO) -> _Stream:
    """The uncompressed view of ``raw``: gzip, bzip2 or xz by magic bytes, else itself."""
    head = raw.read(6)
    raw.seek(0)
    if head.startswith(b"\x1f\x8b"):
        return gzip.GzipFile(fileobj=raw, mode="rb")
    if head.startswith(b"BZh"):
        return bz2.BZ2File(raw)
    if head.startswith(b"\xfd7zXZ\x00"):
        return lzma.LZMAFile(raw)
    return raw


def _starts_with_tar_header(raw: BinaryIO) -> bool:
    try:
        with closing(decompressed(raw)) as stream:
            block = stream.read(tarfile.BLOCKSIZE)
        tarfile.TarInfo.frombuf(block, "utf-8", "surrogateescape")
    except _CORRUPT:
        return False
    return True


@contextmanager
def _open_members(
    archive: Path, limits: ArchiveLimits, archive_bytes: int
) -> Iterator[Iterator[_Member]]:
    kind = archive_kind(archive)
    if kind is None:
        raise UnsafeArchiveError("invalid_archive", "not a zip or tar archive")
    if kind == "zip":
        with _open_zip(archive) as zf:
            yield _zip_members(zf)
        return
    cap = int(limits.max_ratio * archive_bytes) + _HEADER_ROOM * limits.max_members
    with (
        archive.open("rb") as raw,
        closing(decompressed(raw)) as stream,
        _open_tar(_GuardedStream(stream, cap + _STREAM_ROOM)) as tar,
    ):
        yield _tar_members(tar)


def _open_zip(archive: Path) -> zipfile.ZipFile:
    with _reading(None):
        return zipfile.ZipFile(archive)


def _open_tar(stream: _GuardedStream) -> tarfile.TarFile:
    with _reading(None):
        return tarfile.open(fileobj=stream, mode="r:")


def _zip_members(zf: zipfile.ZipFile) -> Iterator[_Member]:
    for info in zf.infolist():
        if info.flag_bits & 0x1 or info.compress_type not in _ZIP_METHODS:
            raise UnsafeArchiveError(
                "invalid_archive", "encrypted or unsupported compression", info.filename
            )
        yield _Member(info.filename, _zip_kind(info), info.file_size, partial(zf.open, info))


def _zip_kind(info: zipfile.ZipInfo) -> _MemberKind:
    mode = info.external_attr >> 16  # unix mode bits, when the creator stored them
    if stat.S_ISLNK(mode):
        return "link"
    if info.is_dir() or stat.S_ISDIR(mode):
        return "dir"
    return "file" if stat.S_IFMT(mode) in (0, stat.S_IFREG) else "special"


def _tar_members(tar: tarfile.TarFile) -> Iterator[_Member]:
    while True:
        with _reading(None):
            info = tar.next()
        if info is None:
            _check_tar_end(tar)
            return
        yield _Member(info.name, _tar_kind(info), info.size, partial(_tar_open, tar, info))


def _check_tar_end(tar: tarfile.TarFile) -> None:
    """Insist on the end-of-archive block: tarfile stops quietly at a cut or garbled header."""
    with _reading(None):
        tar.fileobj.seek(tar.offset)  # where tarfile stopped reading headers
        block = tar.fileobj.read(tarfile.BLOCKSIZE)
    if len(block) != tarfile.BLOCKSIZE or any(block):
        raise UnsafeArchiveError("invalid_archive", "tar archive is truncated or garbled")


def _tar_kind(info: tarfile.TarInfo) -> _MemberKind:
    if info.issym() or info.islnk():
        return "link"
    if info.isdir():
        return "dir"
    return "file" if info.isreg() else "special"


def _tar_open(tar: tarfile.TarFile, info: tarfile.TarInfo) -> IO[bytes]:
    source = tar.extractfile(info)
    if source is None:
        raise UnsafeArchiveError("invalid_archive", "member has no data", info.name)
    return source


# --- Checking every header first -------------------------------------------------------


def _plan(members: Iterable[_Member], limits: ArchiveLimits, archive_bytes: int) -> _Plan:
    plan = _Plan()
    for member in members:
        plan.members += 1
        if plan.members > limits.max_members:
            raise UnsafeArchiveError("archive_too_many_members", "too many members", member.name)
        parts = _safe_parts(member.name)
        _check_kind(member)
        if member.kind == "file":
            _add_file(plan, parts, member, limits, archive_bytes)
    return plan


def _safe_parts(name: str) -> _Parts:
    """The path parts of a member name, refusing anything that could leave the folder."""
    if "\x00" in name:
        raise UnsafeArchiveError("invalid_archive", "NUL byte in a member name", name)
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        raise UnsafeArchiveError("archive_absolute_path", "absolute member path", name)
    parts = tuple(p for p in _SEPARATORS.split(name) if p not in ("", "."))
    if ".." in parts:
        raise UnsafeArchiveError("archive_traversal", "'..' in a member path", name)
    encoded = [len(p.encode("utf-8", "surrogateescape")) for p in parts]
    if any(n > _MAX_PART_BYTES for n in encoded) or sum(encoded) > _MAX_PATH_BYTES:
        raise UnsafeArchiveError("invalid_archive", "member path too long", name)
    return parts


def _check_kind(member: _Member) -> None:
    if member.kind == "link":
        raise UnsafeArchiveError("archive_link", "links are not allowed", member.name)
    if member.kind == "special":
        raise UnsafeArchiveError(
            "archive_special_file", "device, fifo or other special member", member.name
        )


def _add_file(
    plan: _Plan, parts: _Parts, member: _Member, limits: ArchiveLimits, archive_bytes: int
) -> None:
    if not parts:
        raise UnsafeArchiveError("invalid_archive", "file member without a name", member.name)
    wanted = _is_wanted(parts)
    _check_declared(plan, member, wanted, limits, archive_bytes)
    if not wanted:
        plan.skip(member.name)
        return
    _claim(plan, parts, member.name)
    plan.images.append((parts, member))


def _is_wanted(parts: _Parts) -> bool:
    hidden = any(p.startswith(".") or p == "__MACOSX" for p in parts)
    return not hidden and is_image_name(parts[-1])


def _check_declared(
    plan: _Plan, member: _Member, wanted: bool, limits: ArchiveLimits, archive_bytes: int
) -> None:
    """Early rejection on the sizes the headers declare (the copy counts again)."""
    if member.size < 0:
        raise UnsafeArchiveError("invalid_archive", "negative member size", member.name)
    plan.declared_all += member.size
    if plan.declared_all > limits.max_ratio * archive_bytes:
        raise _ratio(member.name)
    if not wanted:
        return
    if member.size > limits.max_member_bytes:
        raise _member_too_large(member.name)
    plan.declared_images += member.size
    if plan.declared_images > limits.max_total_bytes:
        raise _too_large(member.name)


def _claim(plan: _Plan, parts: _Parts, name: str) -> None:
    """Reserve an output path: no duplicates, no file where a folder is needed."""
    if parts in plan.files or parts in plan.folders:
        raise UnsafeArchiveError("invalid_archive", "two members write the same path", name)
    for depth in range(1, len(parts)):
        if parts[:depth] in plan.files:
            raise UnsafeArchiveError("invalid_archive", "a file is also a folder", name)
        plan.folders.add(parts[:depth])
    plan.files.add(parts)


# --- Writing ---------------------------------------------------------------------------


def _target(root: Path, parts: _Parts, name: str) -> Path:
    """The output path, checked (symlinks resolved) to lie inside ``root``."""
    target = root.joinpath(*parts)
    if not target.resolve().is_relative_to(root):
        raise UnsafeArchiveError("archive_traversal", "member resolves outside", name)
    target.parent.mkdir(parents=True, exist_ok=True)
    if not target.parent.resolve().is_relative_to(root):
        raise UnsafeArchiveError("archive_traversal", "member resolves outside", name)
    return target


def _copy(member: _Member, target: Path, meter: _Meter) -> None:
    with _reading(member.name):
        source = member.open()
    with source, os.fdopen(os.open(target, _OPEN_FLAGS, 0o644), "wb") as out:
        written = 0
        while chunk := _read_chunk(source, member.name):
            written += len(chunk)
            meter.add(member, written, len(chunk))
            out.write(chunk)


def _read_chunk(source: IO[bytes], name: str) -> bytes:
    with _reading(name):
        return source.read(_CHUNK)
