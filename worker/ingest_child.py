"""The ingest child process: unpack one uploaded archive, or scan one folder, under limits.

``worker.ingest`` starts a fresh ``python -m worker.ingest_child`` for every archive and
every folder, writes one JSON request to its standard input and reads one JSON answer from
its standard output. The child limits itself first (``RLIMIT_CPU``, ``RLIMIT_AS``), so
whatever the archive or the folder makes a parser do, it can cost at most that CPU time
and memory; the parent kills it at the wall-time limit. Nothing untrusted is parsed in a
process that serves anything else.

Request: ``{"cpu_seconds", "memory_bytes", "folder"}`` to scan a folder, or with
``"archive"``, ``"dest"`` and ``"limits"`` (``ArchiveLimits``' fields) to check the
archive's headers, extract its images into ``dest`` and scan them.
Answer: ``{"fields": {...}}`` (the dataset row's scan fields) or
``{"refused": {"code", "message", "member"}}``.
"""

from __future__ import annotations

import json
import resource
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from api.core.archive import ArchiveLimits, UnsafeArchiveError, extract_images
from api.core.archive_headers import check_archive_headers
from ssl_engine.data.scan import scan_image_folder

MAX_NAME_IN_ANSWER = 200  # characters of a member name echoed back


def scan_fields(folder: Path) -> dict[str, Any]:
    """Scan ``folder``: the dataset row's fields (counts, classes, unreadable files, sizes)."""
    scan = scan_image_folder(folder)
    class_counts: dict[str, int] = {}
    if scan.labels is not None:
        for label in scan.labels:
            name = scan.classes[label]
            class_counts[name] = class_counts.get(name, 0) + 1
    return {
        "image_count": len(scan.files),
        "classes": list(scan.classes),
        "class_counts": class_counts,
        "unreadable": [{"path": u.path, "reason": u.reason} for u in scan.unreadable],
        "size_stats": {
            "width": asdict(scan.width_stats),
            "height": asdict(scan.height_stats),
        },
        "total_bytes": scan.total_bytes,
    }


def limit_self(cpu_seconds: int, memory_bytes: int) -> None:
    """Cap this process: past the CPU time the kernel sends SIGXCPU then SIGKILL; past the
    address space allocations fail (MemoryError)."""
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))


def handle(request: dict[str, Any]) -> dict[str, Any]:
    if "archive" not in request:
        return {"fields": scan_fields(Path(request["folder"]))}
    archive, dest = Path(request["archive"]), Path(request["dest"])
    limits = ArchiveLimits(**request["limits"])
    try:
        check_archive_headers(archive, limits)
        extract_images(archive, dest, limits)
    except UnsafeArchiveError as error:
        member = error.member
        if member is not None and len(member) > MAX_NAME_IN_ANSWER:
            member = f"{member[:MAX_NAME_IN_ANSWER]}... ({len(member)} characters)"
        return {"refused": {"code": error.code, "message": str(error), "member": member}}
    return {"fields": scan_fields(dest)}


def main() -> None:
    request = json.loads(sys.stdin.buffer.read())
    limit_self(int(request["cpu_seconds"]), int(request["memory_bytes"]))
    try:
        answer = handle(request)
    except MemoryError:
        answer = {"refused": {"code": "ingest_memory", "message": "memory limit reached"}}
    sys.stdout.write(json.dumps(answer))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
