"""Ending the leases of a worker known to be dead, so its work is re-queued at once.

A lease normally runs out on its own (``SSLPT_LEASE_SECONDS`` after the last renewal) and
the reconciler then re-queues the work. A supervisor that saw the worker process exit
need not wait: it marks that owner's leases expired now, and the reconciler's next pass
treats them like any lost lease (bounded attempts, resume from the last checkpoint).
"""

from __future__ import annotations

import os
import socket
from datetime import timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.core.persistence import jobs
from api.core.persistence.tables import (
    Dataset,
    DatasetEmbedding,
    Evaluation,
    Job,
    JobStatus,
    utcnow,
)


def lease_owner(pid: int | None = None) -> str:
    """``host:pid``, the name a worker process holds its leases under (this process's,
    or that of the process ``pid`` on this host)."""
    return f"{socket.gethostname()}:{os.getpid() if pid is None else pid}"


def expire_leases_of(session: Session, owner: str, reason: str) -> int:
    """Expire every lease ``owner`` (``host:pid``) holds; each of its jobs gets a
    ``worker_lost`` event saying ``reason``. Returns how many rows were affected."""
    expired = utcnow() - timedelta(seconds=1)
    job_ids = session.scalars(
        select(Job.id).where(Job.lease_owner == owner, Job.status.in_(jobs.LEASED_STATUSES))
    ).all()
    for job_id in job_ids:
        jobs.add_event(session, job_id, "worker_lost", None, None, reason)
    count = len(job_ids)
    session.execute(
        update(Job)
        .where(Job.lease_owner == owner, Job.status.in_(jobs.LEASED_STATUSES))
        .values(lease_expires_at=expired)
    )
    for table in (Dataset, Evaluation, DatasetEmbedding):
        result = session.execute(
            update(table)
            .where(table.lease_owner == owner, table.status == JobStatus.RUNNING)
            .values(lease_expires_at=expired)
        )
        count += result.rowcount  # type: ignore[attr-defined]
    return count
