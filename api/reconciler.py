"""Finds jobs whose worker was lost (lease expired) and re-queues them, a bounded number of times.

Every API process runs one; they are safe together because each move is a conditional
UPDATE (``jobs.transition``) and a duplicate message is a no-op for the worker's claim.
"""

from __future__ import annotations

import asyncio
import logging

from celery import Celery
from fastapi.concurrency import run_in_threadpool

from api.errors import ApiError
from api.persistence import jobs
from api.persistence.db import session_scope
from api.persistence.models import JobStatus, utcnow
from api.queue import publish_job
from api.settings import Settings

log = logging.getLogger(__name__)
S = JobStatus


def reconcile_once(settings: Settings, celery: Celery) -> list[str]:
    """One pass; returns the ids of jobs re-queued."""
    requeue: list[str] = []
    with session_scope(settings.resolved_database_url) as session:
        for job in jobs.expired_leases(session, utcnow()):
            if job.status == S.CANCELLING:
                jobs.transition(session, job.id, S.CANCELLED, "worker lost while cancelling")
            elif job.attempts >= settings.max_job_attempts:
                reason = f"worker lost {job.attempts} times; giving up"
                jobs.transition(session, job.id, S.FAILED, reason, failure_reason=reason)
            elif jobs.transition(
                session,
                job.id,
                S.INTERRUPTED,
                f"lease of {job.lease_owner} expired (attempt {job.attempts}); re-queued",
                lease_owner=None,
                lease_expires_at=None,
            ):
                requeue.append(job.id)
        requeue += [
            j.id for j in jobs.jobs_in_status(session, [S.INTERRUPTED]) if j.id not in requeue
        ]
    for job_id in requeue:
        try:
            publish_job(celery, job_id)
        except ApiError:
            log.warning("reconciler: broker down; job %s stays interrupted", job_id)
    return requeue


async def reconcile_forever(settings: Settings, celery: Celery) -> None:
    while True:
        try:
            await run_in_threadpool(reconcile_once, settings, celery)
        except Exception:
            log.warning("reconcile pass failed; retrying", exc_info=True)
        await asyncio.sleep(settings.reconcile_interval_seconds)
