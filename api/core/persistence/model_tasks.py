"""Leased work other than training: ingests, probes and dataset embeddings.

They follow the jobs' rules (``api.core.persistence.jobs``) in a smaller state machine:
queued -> running -> succeeded | failed. The claim is one conditional UPDATE that also
takes a lease; the worker renews it while it works; only the lease holder may end the row;
the reconciler re-queues a row whose lease ran out (bounded attempts) and sends a queued
row nobody claimed again.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from api.core.persistence.tables import Dataset, DatasetEmbedding, Evaluation, JobStatus, utcnow

TaskTable = type[Dataset] | type[Evaluation] | type[DatasetEmbedding]


def claim(session: Session, table: TaskTable, row_id: str, owner: str, lease: timedelta) -> bool:
    """Take a queued row (or a running one whose lease ran out) for ``owner``."""
    now = utcnow()
    result = session.execute(
        update(table)
        .where(
            table.id == row_id,
            or_(
                table.status == JobStatus.QUEUED,
                (table.status == JobStatus.RUNNING) & (table.lease_expires_at < now),
            ),
        )
        .values(
            status=JobStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=table.attempts + 1,
            started_at=func.coalesce(table.started_at, now),
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def renew(session: Session, table: TaskTable, row_id: str, owner: str, lease: timedelta) -> bool:
    """Extend ``owner``'s lease; False if it was lost (expired and taken over, or ended)."""
    result = session.execute(
        update(table)
        .where(table.id == row_id, table.status == JobStatus.RUNNING, table.lease_owner == owner)
        .values(lease_expires_at=utcnow() + lease)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def finish(
    session: Session, table: TaskTable, row_id: str, owner: str, status: JobStatus, **values: Any
) -> bool:
    """running -> ``status`` with ``values``, only while ``owner`` holds the lease."""
    result = session.execute(
        update(table)
        .where(table.id == row_id, table.status == JobStatus.RUNNING, table.lease_owner == owner)
        .values(
            status=status,
            finished_at=utcnow(),
            lease_owner=None,
            lease_expires_at=None,
            **values,
        )
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def expired_leases(session: Session, table: TaskTable, now: datetime) -> list[Any]:
    query = select(table).where(table.status == JobStatus.RUNNING, table.lease_expires_at < now)
    return list(session.scalars(query).all())


def requeue_or_fail(session: Session, table: TaskTable, row: Any, max_attempts: int) -> bool:
    """A row whose lease ran out: queued again (True: publish it) or, after
    ``max_attempts`` claims, failed. Conditional on the lease the caller saw."""
    lost = f"lease of {row.lease_owner} expired on attempt {row.attempts} of {max_attempts}"
    values: dict[str, Any] = {"lease_owner": None, "lease_expires_at": None}
    if row.attempts >= max_attempts:
        values |= {
            "status": JobStatus.FAILED,
            "finished_at": utcnow(),
            "failure_reason": f"{lost}; giving up (SSLPT_MAX_JOB_ATTEMPTS)",
        }
    else:
        values |= {"status": JobStatus.QUEUED, "queued_at": utcnow()}
    result = session.execute(
        update(table)
        .where(
            table.id == row.id,
            table.status == JobStatus.RUNNING,
            table.lease_expires_at == row.lease_expires_at,
        )
        .values(**values)
    )
    return result.rowcount == 1 and values["status"] == JobStatus.QUEUED  # type: ignore[attr-defined]


def resend_waiting(session: Session, table: TaskTable, before: datetime) -> list[str]:
    """Queued rows nobody claimed since ``before``, stamped as sent now; their ids."""
    waiting = session.scalars(
        select(table.id).where(table.status == JobStatus.QUEUED, table.queued_at < before)
    ).all()
    resent = []
    for row_id in waiting:
        result = session.execute(
            update(table)
            .where(table.id == row_id, table.status == JobStatus.QUEUED, table.queued_at < before)
            .values(queued_at=utcnow())
        )
        if result.rowcount == 1:  # type: ignore[attr-defined]
            resent.append(row_id)
    return resent
