"""Counting a tenant's unfinished work: training jobs, evaluations and dataset embeddings."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from api.core.persistence.tables import DatasetEmbedding, Evaluation, Job, JobStatus, Tenant

ACTIVE = (JobStatus.QUEUED, JobStatus.RUNNING, JobStatus.CANCELLING, JobStatus.INTERRUPTED)


def count_active_work(session: Session) -> int:
    """Unfinished jobs, evaluations and dataset embeddings the session's tenant has."""
    total = 0
    for table in (Job, Evaluation, DatasetEmbedding):
        query = select(func.count()).select_from(table).where(table.status.in_(ACTIVE))
        total += session.scalar(query) or 0
    return total


def lock_tenant(session: Session, tenant_id: str) -> None:
    """Hold ``tenant_id``'s lock until the session's transaction ends, so that counting the
    tenant's work and adding to it is one atomic step among concurrent requests.

    An UPDATE that changes nothing takes the lock on both databases: on PostgreSQL the
    row's lock (as ``SELECT ... FOR UPDATE``), on SQLite the database's write lock (as
    ``BEGIN IMMEDIATE``). A SQLite transaction that has read cannot wait for the write lock
    (WAL refuses a stale reader at once instead of waiting), so what the session did so far,
    reads only, is committed first and the lock opens a new transaction.
    """
    session.commit()
    session.execute(
        update(Tenant).where(Tenant.id == tenant_id).values(max_active_jobs=Tenant.max_active_jobs)
    )
