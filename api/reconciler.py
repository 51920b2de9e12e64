"""Finds jobs whose worker was lost or whose message was lost, and sends them again.

A pass does two things:

* a running job whose lease expired (worker killed, machine gone) becomes ``interrupted``
  and is re-queued, or ``failed`` once it has used ``max_job_attempts``; a ``cancelling``
  one becomes ``cancelled``;
* a queued or interrupted job that no worker claimed for ``requeue_waiting_after_seconds``
  is published again: a broker that restarted empty (Redis without persistence) or a
  message a dead worker had prefetched would otherwise leave it waiting forever.

Dataset ingests, linear probes and dataset embeddings (``api.core.persistence.model_tasks``)
get the same two treatments: a lost lease puts them back in the queue (or fails them after
``max_job_attempts``), and one nobody claimed is sent again. A pass also removes dataset
uploads that an API process killed mid-upload left behind (``api.core.incoming``), and
every ``RECLAIM_EVERY_SECONDS`` the folders no row points at and the decoded images no
dataset needs (``api.core.reclaim``).

Every API process runs one, but only one pass runs at a time anywhere (``exclusive_pass``:
a PostgreSQL advisory lock, or a file lock beside a SQLite database). Correctness does not
rest on the lock: every move is a conditional UPDATE, and a duplicate message is a no-op
for the worker's claim. The lock keeps passes from doing the same work twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from celery import Celery
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.core import reclaim
from api.core.incoming import sweep_stale_uploads
from api.core.persistence import jobs, model_tasks
from api.core.persistence.db import session_scope
from api.core.persistence.model_tasks import TaskTable
from api.core.persistence.tables import (
    Dataset,
    DatasetEmbedding,
    Evaluation,
    Job,
    JobStatus,
    utcnow,
)
from api.core.queue import (
    EMBED_DATASET_TASK,
    EVALUATE_TASK,
    INGEST_TASK,
    RUN_JOB_TASK,
    BrokerUnavailable,
    job_queue,
    publish,
)
from api.core.settings import Settings
from api.service_metrics import REQUEUES

log = logging.getLogger(__name__)

# Key of the PostgreSQL advisory lock held for the length of one pass: any fixed 64-bit
# number that nothing else in the database uses as a lock key ("sslpt" in ASCII).
ADVISORY_LOCK_KEY = 0x73_73_6C_70_74
RECLAIM_EVERY_SECONDS = 600  # walking every artifact folder is not needed every pass


def reconcile_once(
    settings: Settings, celery: Celery, reclaim_disk: bool = False
) -> list[str] | None:
    """One pass; returns the ids of the jobs, probes and dataset embeddings published
    again, or None if another reconciler holds the lock right now. With ``reclaim_disk``
    it also removes folders no row points at and cache entries no dataset needs."""
    resend: list[tuple[str, str, str | None]] = []  # (task name, row id, queue)
    with (
        session_scope(settings.resolved_database_url, tenant=None) as session,
        exclusive_pass(session) as mine,
    ):
        if not mine:
            return None
        requeue = _handle_expired_leases(session, settings) + _stale_waiting(session, settings)
        resend += [(RUN_JOB_TASK, job.id, job_queue(job.needs_gpu)) for job in requeue]
        resend += [(task, row_id, None) for task, row_id in _model_tasks(session, settings)]
        if reclaim_disk:
            reclaim.sweep(settings, session)
    sweep_stale_uploads(settings)
    for task, row_id, queue in resend:
        REQUEUES.labels(task).inc()
        try:
            publish(celery, task, row_id, queue)
        except BrokerUnavailable:
            log.warning("reconciler: broker down; %s(%s) is sent again later", task, row_id)
    return [row_id for _, row_id, _ in resend]


def _handle_expired_leases(session: Session, settings: Settings) -> list[Job]:
    """Move every job whose lease ran out; returns those to re-queue."""
    max_attempts = settings.max_job_attempts
    requeue = []
    for job in jobs.expired_leases(session, utcnow()):
        lost = f"lease of {job.lease_owner} expired on attempt {job.attempts} of {max_attempts}"
        if job.status == JobStatus.CANCELLING:
            jobs.transition(session, job.id, JobStatus.CANCELLED, f"{lost} while cancelling")
        elif job.attempts >= max_attempts:
            reason = f"{lost}; giving up (SSLPT_MAX_JOB_ATTEMPTS)"
            jobs.transition(session, job.id, JobStatus.FAILED, reason, failure_reason=reason)
        elif jobs.transition(
            session,
            job.id,
            JobStatus.INTERRUPTED,
            f"{lost}; re-queued to resume from its last checkpoint",
            lease_owner=None,
            lease_expires_at=None,
        ):
            requeue.append(job)
    return requeue


def _stale_waiting(session: Session, settings: Settings) -> list[Job]:
    """Stamp jobs that waited too long for a worker; returns those to publish again."""
    waiting_seconds = settings.requeue_waiting_after_seconds
    before = utcnow() - timedelta(seconds=waiting_seconds)
    reason = f"no worker claimed it for {waiting_seconds:g}s; message sent again"
    return [
        job
        for job in jobs.waiting_since(session, before)
        if jobs.mark_resent(session, job.id, before, reason)
    ]


def _model_tasks(session: Session, settings: Settings) -> list[tuple[str, str]]:
    """Ingests, probes and dataset embeddings to publish again: lost leases and lost
    messages."""
    now = utcnow()
    before = now - timedelta(seconds=settings.requeue_waiting_after_seconds)
    resend = []
    leased: tuple[tuple[TaskTable, str], ...] = (
        (Dataset, INGEST_TASK),
        (Evaluation, EVALUATE_TASK),
        (DatasetEmbedding, EMBED_DATASET_TASK),
    )
    for table, task in leased:
        for row in model_tasks.expired_leases(session, table, now):
            if model_tasks.requeue_or_fail(session, table, row, settings.max_job_attempts):
                resend.append((task, row.id))
        resend += [(task, i) for i in model_tasks.resend_waiting(session, table, before)]
    return resend


@contextmanager
def exclusive_pass(session: Session) -> Iterator[bool]:
    """Whether this process may reconcile now; held until the session's transaction ends."""
    engine = session.get_bind().engine
    database = engine.url.database
    if engine.dialect.name == "postgresql":
        # Transaction-scoped: released at commit/rollback, or when the connection dies.
        query = text("SELECT pg_try_advisory_xact_lock(:key)")
        yield bool(session.scalar(query, {"key": ADVISORY_LOCK_KEY}))
    elif engine.dialect.name == "sqlite" and database and database != ":memory:":
        with _file_lock(Path(f"{database}.reconciler.lock")) as held:
            yield held
    else:  # in-memory SQLite is one process; elsewhere the conditional updates suffice
        yield True


@contextmanager
def _file_lock(path: Path) -> Iterator[bool]:
    """A non-blocking exclusive ``flock`` on ``path``: SQLite's processes share one machine."""
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


async def reconcile_forever(settings: Settings, celery: Celery) -> None:
    next_reclaim = 0.0  # the first pass reclaims, then one every RECLAIM_EVERY_SECONDS
    while True:
        reclaim_disk = time.monotonic() >= next_reclaim
        try:
            await run_in_threadpool(reconcile_once, settings, celery, reclaim_disk)
            if reclaim_disk:
                next_reclaim = time.monotonic() + RECLAIM_EVERY_SECONDS
        except Exception:
            log.warning("reconcile pass failed; retrying", exc_info=True)
        await asyncio.sleep(settings.reconcile_interval_seconds)
