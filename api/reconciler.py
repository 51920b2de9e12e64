"""Finds jobs whose worker was lost or whose message was lost, and sends them again.

A pass does two things:

* a running job whose lease expired (worker killed, machine gone) becomes ``interrupted``
  and is re-queued, or ``failed`` once it has used ``max_job_attempts``; a ``cancelling``
  one becomes ``cancelled``;
* a queued or interrupted job that no worker claimed for ``requeue_waiting_after_seconds``
  is published again: a broker that restarted empty (Redis without persistence) or a
  message a dead worker had prefetched would otherwise leave it waiting forever.

Every API process runs one, but only one pass runs at a time anywhere (``exclusive_pass``:
a PostgreSQL advisory lock, or a file lock beside a SQLite database). Correctness does not
rest on the lock: every move is a conditional UPDATE, and a duplicate message is a no-op
for the worker's claim. The lock keeps passes from doing the same work twice.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from celery import Celery
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.persistence import jobs
from api.persistence.db import session_scope
from api.persistence.models import JobStatus, utcnow
from api.queue import publish_job
from api.settings import Settings

log = logging.getLogger(__name__)
S = JobStatus

# Key of the PostgreSQL advisory lock held for the length of one pass: any fixed 64-bit
# number that nothing else in the database uses as a lock key ("sslpt" in ASCII).
ADVISORY_LOCK_KEY = 0x73_73_6C_70_74


def reconcile_once(settings: Settings, celery: Celery) -> list[str] | None:
    """One pass; returns the ids of the jobs published again, or None if another
    reconciler holds the lock right now."""
    resend: list[str] = []
    with (
        session_scope(settings.resolved_database_url, tenant=None) as session,
        exclusive_pass(session) as mine,
    ):
        if not mine:
            return None
        resend += _handle_expired_leases(session, settings.max_job_attempts)
        resend += _stale_waiting(session, settings.requeue_waiting_after_seconds)
    for job_id in resend:
        try:
            publish_job(celery, job_id)
        except ApiError:
            log.warning("reconciler: broker down; job %s is sent again after waiting", job_id)
    return resend


def _handle_expired_leases(session: Session, max_attempts: int) -> list[str]:
    """Move every job whose lease ran out; returns the ids to re-queue."""
    requeue = []
    for job in jobs.expired_leases(session, utcnow()):
        lost = f"lease of {job.lease_owner} expired on attempt {job.attempts} of {max_attempts}"
        if job.status == S.CANCELLING:
            jobs.transition(session, job.id, S.CANCELLED, f"{lost} while cancelling")
        elif job.attempts >= max_attempts:
            reason = f"{lost}; giving up (SSLPT_MAX_JOB_ATTEMPTS)"
            jobs.transition(session, job.id, S.FAILED, reason, failure_reason=reason)
        elif jobs.transition(
            session,
            job.id,
            S.INTERRUPTED,
            f"{lost}; re-queued to resume from its last checkpoint",
            lease_owner=None,
            lease_expires_at=None,
        ):
            requeue.append(job.id)
    return requeue


def _stale_waiting(session: Session, waiting_seconds: float) -> list[str]:
    """Stamp jobs that waited too long for a worker; returns the ids to publish again."""
    before = utcnow() - timedelta(seconds=waiting_seconds)
    reason = f"no worker claimed it for {waiting_seconds:g}s; message sent again"
    return [
        job.id
        for job in jobs.waiting_since(session, before)
        if jobs.mark_resent(session, job.id, before, reason)
    ]


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
    while True:
        try:
            await run_in_threadpool(reconcile_once, settings, celery)
        except Exception:
            log.warning("reconcile pass failed; retrying", exc_info=True)
        await asyncio.sleep(settings.reconcile_interval_seconds)
