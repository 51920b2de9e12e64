"""The workers table: each worker process registers itself and heartbeats.

A worker is alive while its last heartbeat is at most ``ALIVE_PERIODS`` heartbeat
periods old. What a worker is doing is not stored here: it is what it holds a lease on
(jobs, ingests, probes, dataset embeddings, by ``lease_owner`` = the worker's id), so
the answer cannot disagree with the rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.core.persistence import jobs
from api.core.persistence.tables import (
    Dataset,
    DatasetEmbedding,
    Evaluation,
    Job,
    JobStatus,
    Worker,
    utcnow,
)

HEARTBEAT_SECONDS = 5.0
ALIVE_PERIODS = 3


def alive_after(now: datetime) -> datetime:
    """Workers whose last heartbeat is newer than this are alive."""
    return now - timedelta(seconds=HEARTBEAT_SECONDS * ALIVE_PERIODS)


def register(session: Session, worker: Worker) -> None:
    """Insert (or, for a reused ``host:pid``, replace) the worker's row."""
    existing = session.get(Worker, worker.id)
    if existing is not None:
        session.delete(existing)
        session.flush()
    session.add(worker)


def heartbeat(session: Session, worker_id: str, tasks_done: int) -> None:
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id)
        .values(last_heartbeat_at=utcnow(), tasks_done=tasks_done, stopped_at=None)
    )


def mark_stopped(session: Session, worker_id: str, reason: str) -> None:
    session.execute(
        update(Worker)
        .where(Worker.id == worker_id, Worker.stopped_at.is_(None))
        .values(stopped_at=utcnow(), stop_reason=reason[:500])
    )


@dataclass(frozen=True)
class Task:
    kind: str  # job, ingest, evaluation, dataset_embedding
    id: str
    tenant_id: str


def current_tasks(session: Session) -> dict[str, list[Task]]:
    """What each worker id holds a lease on now."""
    found: dict[str, list[Task]] = {}
    now = utcnow()
    leased = select(Job.lease_owner, Job.id, Job.tenant_id).where(
        Job.status.in_(jobs.LEASED_STATUSES), Job.lease_expires_at >= now
    )
    for owner, row_id, tenant in session.execute(leased):
        if owner is not None:
            found.setdefault(owner, []).append(Task("job", row_id, tenant))
    tables = (
        ("ingest", Dataset),
        ("evaluation", Evaluation),
        ("dataset_embedding", DatasetEmbedding),
    )
    for kind, table in tables:
        query = select(table.lease_owner, table.id, table.tenant_id).where(
            table.status == JobStatus.RUNNING, table.lease_expires_at >= now
        )
        for owner, row_id, tenant in session.execute(query):
            if owner is not None:
                found.setdefault(owner, []).append(Task(kind, row_id, tenant))
    return found


def list_workers(session: Session, since: datetime) -> list[Worker]:
    """Workers alive now, and those stopped or silent since ``since``, newest first."""
    query = select(Worker).where(Worker.last_heartbeat_at >= since)
    return list(session.scalars(query.order_by(Worker.started_at.desc(), Worker.id)).all())


def count_alive(session: Session, now: datetime) -> int:
    query = select(Worker.id).where(
        Worker.last_heartbeat_at >= alive_after(now), Worker.stopped_at.is_(None)
    )
    return len(session.scalars(query).all())
