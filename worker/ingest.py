"""Ingest one dataset: unpack its uploaded archive or scan its folder, in a limited child.

The API only stores the upload's bytes (or checks a registered path) and queues the
dataset's id on the ingest queue (``api.core.queue.INGEST_QUEUE``), served by its own
worker process, so an ingest never waits behind a training job and a training job never
shares a process with an untrusted parser. Here the worker claims the dataset row with a
lease (``api.core.persistence.model_tasks``, as probes are claimed) and runs
``worker.ingest_child`` in a fresh process under ``SSLPT_INGEST_CPU_SECONDS``,
``SSLPT_INGEST_MEMORY_BYTES`` and ``SSLPT_INGEST_WALL_SECONDS``.

An upload is unpacked under the tenant's ``incoming/<id>.d`` and renamed to
``datasets/<id>`` only once scanned; the row then becomes ``succeeded`` (shown as
``ready``) with the scan's fields, in one conditional update that needs the lease. A
refused archive, a folder of no readable image, or a child past a limit ends the row
``failed`` with the reason and leaves no file behind. A worker killed meanwhile leaves the
row to the reconciler, which queues it again; the next attempt starts from the archive.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import asdict, dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from api.core.archive import ArchiveLimits
from api.core.artifacts import incoming_dir
from api.core.persistence import model_tasks
from api.core.persistence.db import session_scope
from api.core.persistence.leases import lease_owner
from api.core.persistence.tables import Dataset, JobStatus
from api.core.settings import Settings
from worker.heartbeat import Heartbeat, StopReason

log = logging.getLogger(__name__)


class IngestRefused(Exception):
    """The dataset cannot be used as submitted; the message is the row's failure reason."""


@dataclass(frozen=True)
class IngestWork:
    dataset_id: str
    tenant_id: str
    path: Path  # the folder, or where an upload goes once unpacked
    archive: Path | None  # the upload waiting in incoming/, if any


def ingest_dataset(settings: Settings, dataset_id: str) -> str | None:
    """Claim and ingest ``dataset_id``; the final status, or None if there was nothing to
    do (not claimable, or the lease was lost meanwhile)."""
    url = settings.resolved_database_url
    owner, lease = lease_owner(), timedelta(seconds=settings.lease_seconds)
    with session_scope(url, tenant=None) as session:
        if not model_tasks.claim(session, Dataset, dataset_id, owner, lease):
            log.info("dataset %s not claimable (duplicate or finished); skipping", dataset_id)
            return None
        row = session.get(Dataset, dataset_id)
        assert row is not None  # claimed just now
        work = IngestWork(
            row.id,
            row.tenant_id,
            Path(row.path),
            Path(row.source_archive) if row.source_archive else None,
        )

    def renew(session: Session) -> StopReason | None:
        held = model_tasks.renew(session, Dataset, dataset_id, owner, lease)
        return None if held else StopReason.LEASE_LOST

    with Heartbeat(url, f"ingest {dataset_id}", lease, renew):
        try:
            fields = _ingest(settings, work)
        except IngestRefused as error:
            return _fail(settings, work, owner, str(error))
        except Exception as error:
            log.exception("ingest of dataset %s crashed", dataset_id)
            return _fail(settings, work, owner, f"{type(error).__name__}: {error}")
    with session_scope(url, tenant=None) as session:
        finished = model_tasks.finish(
            session, Dataset, dataset_id, owner, JobStatus.SUCCEEDED, source_archive=None, **fields
        )
    if not finished:
        log.warning("ingest of dataset %s: lease lost to another worker", dataset_id)
        return None
    if work.archive is not None:
        work.archive.unlink(missing_ok=True)
    return JobStatus.SUCCEEDED


def _ingest(settings: Settings, work: IngestWork) -> dict[str, Any]:
    """Run the child; the row's scan fields. IngestRefused on bad input or a limit."""
    request: dict[str, Any] = {
        "cpu_seconds": settings.ingest_cpu_seconds,
        "memory_bytes": settings.ingest_memory_bytes,
    }
    if work.archive is None:
        if not work.path.is_dir():
            raise IngestRefused(f"dataset folder {work.path} no longer exists")
        return _scanned(run_child(settings, {**request, "folder": str(work.path)}))
    unpacked = _unpacked_dir(settings, work)
    shutil.rmtree(unpacked, ignore_errors=True)  # a killed earlier attempt's leftovers
    if not work.archive.is_file():
        raise IngestRefused("the uploaded archive is gone (removed after a failed attempt?)")
    request |= {"archive": str(work.archive), "dest": str(unpacked), "limits": _limits(settings)}
    try:
        fields = _scanned(run_child(settings, request))
        shutil.rmtree(work.path, ignore_errors=True)
        work.path.parent.mkdir(parents=True, exist_ok=True)
        unpacked.rename(work.path)  # complete and scanned: only now under datasets/
    except BaseException:
        shutil.rmtree(unpacked, ignore_errors=True)
        raise
    return fields


def _scanned(answer: dict[str, Any]) -> dict[str, Any]:
    if "refused" in answer:
        refused = answer["refused"]
        member = f" (member {refused['member']!r})" if refused.get("member") else ""
        raise IngestRefused(f"archive refused [{refused['code']}]: {refused['message']}{member}")
    fields: dict[str, Any] = answer["fields"]
    if fields["image_count"] == 0:
        unreadable = fields["unreadable"]
        named = "; ".join(f"{u['path'][:200]}: {u['reason']}" for u in unreadable[:5])
        raise IngestRefused(
            "no readable image (JPEG/PNG/WebP/BMP) in the dataset; "
            f"{len(unreadable)} unreadable{': ' + named if named else ''}"
        )
    return fields


def run_child(settings: Settings, request: dict[str, Any]) -> dict[str, Any]:
    """Run ``worker.ingest_child`` on ``request`` in a new process group; its answer.

    Killed (with its group) at ``ingest_wall_seconds``; a child that dies (the CPU limit's
    SIGXCPU/SIGKILL, a crash) or answers nothing is IngestRefused naming the limit.
    """
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    child = subprocess.Popen(
        [sys.executable, "-m", "worker.ingest_child"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
        env=env,
    )
    try:
        out, err = child.communicate(
            json.dumps(request).encode(), timeout=settings.ingest_wall_seconds
        )
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.communicate()
        raise IngestRefused(
            f"ingest ran past SSLPT_INGEST_WALL_SECONDS={settings.ingest_wall_seconds:g}"
        ) from None
    if child.returncode in (-signal.SIGXCPU, -signal.SIGKILL):
        raise IngestRefused(
            f"ingest used up SSLPT_INGEST_CPU_SECONDS={settings.ingest_cpu_seconds} "
            f"(killed by signal {-child.returncode})"
        )
    if child.returncode != 0 or not out:
        last = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
        raise IngestRefused(f"ingest failed (exit {child.returncode}): {last[0][:300]}")
    answer: dict[str, Any] = json.loads(out)
    refused = answer.get("refused")
    if refused and refused.get("code") == "ingest_memory":
        raise IngestRefused(
            f"ingest reached SSLPT_INGEST_MEMORY_BYTES={settings.ingest_memory_bytes}"
        )
    return answer


def _limits(settings: Settings) -> dict[str, Any]:
    return asdict(
        ArchiveLimits(
            max_members=settings.max_archive_members,
            max_member_bytes=settings.max_archive_member_bytes,
            max_total_bytes=settings.max_archive_total_bytes,
            max_ratio=settings.max_archive_ratio,
        )
    )


def _unpacked_dir(settings: Settings, work: IngestWork) -> Path:
    return incoming_dir(settings, work.tenant_id) / f"{work.dataset_id}.d"


def _fail(settings: Settings, work: IngestWork, owner: str, reason: str) -> str | None:
    """End the row ``failed``; an upload's files go (a failed dataset is never retried)."""
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        failed = model_tasks.finish(
            session, Dataset, work.dataset_id, owner, JobStatus.FAILED, failure_reason=reason
        )
    if failed and work.archive is not None:
        work.archive.unlink(missing_ok=True)
        shutil.rmtree(_unpacked_dir(settings, work), ignore_errors=True)
    return JobStatus.FAILED if failed else None
