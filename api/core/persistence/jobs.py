"""Job rows and their state machine: every transition is one conditional UPDATE + an event.

The database row is the truth (docs/architecture.md, "Job states"). A transition names
the states it may start from; the UPDATE only matches a row still in the state we read,
so two processes racing (a duplicate delivery, a cancel during completion) cannot both
win.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, or_, select, true, update
from sqlalchemy.orm import Session

from api.core.persistence.tables import FINISHED_STATUSES, Job, JobEvent, JobStatus, utcnow

# Which states each state may move to. Anything else is refused.
TRANSITIONS: dict[JobStatus, frozenset[JobStatus]] = {
    JobStatus.QUEUED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.RUNNING: frozenset(
        {JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLING, JobStatus.INTERRUPTED}
    ),
    JobStatus.CANCELLING: frozenset({JobStatus.CANCELLED, JobStatus.FAILED, JobStatus.SUCCEEDED}),
    JobStatus.INTERRUPTED: frozenset({JobStatus.RUNNING, JobStatus.CANCELLED, JobStatus.FAILED}),
    JobStatus.SUCCEEDED: frozenset(),
    JobStatus.FAILED: frozenset(),
    JobStatus.CANCELLED: frozenset(),
}
MAX_CAS_RETRIES = 5
WAITING_STATUSES = (JobStatus.QUEUED, JobStatus.INTERRUPTED)  # for a worker to claim
LEASED_STATUSES = (JobStatus.RUNNING, JobStatus.CANCELLING)  # a worker holds a lease


def create_job(session: Session, **fields: Any) -> Job:
    """Insert a queued job and its first event."""
    job = Job(status=JobStatus.QUEUED, **fields)
    session.add(job)
    session.flush()
    add_event(session, job.id, "transition", None, JobStatus.QUEUED, "submitted")
    return job


def get_job(session: Session, job_id: str) -> Job | None:
    return session.get(Job, job_id)


def get_job_by_idempotency_key(session: Session, key: str) -> Job | None:
    return session.scalars(select(Job).where(Job.idempotency_key == key)).first()


def list_jobs(
    session: Session, *, status: Sequence[str] | None, limit: int, offset: int
) -> tuple[list[Job], int]:
    """A page of jobs, newest first, and the total count for the filter."""
    query = select(Job)
    if status:
        query = query.where(Job.status.in_(status))
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Job.created_at.desc(), Job.id).limit(limit).offset(offset)
    ).all()
    return list(rows), total


def add_event(
    session: Session,
    job_id: str,
    kind: str,
    from_status: str | None,
    to_status: str | None,
    reason: str,
) -> None:
    session.add(
        JobEvent(
            job_id=job_id, kind=kind, from_status=from_status, to_status=to_status, reason=reason
        )
    )


def list_events(session: Session, job_id: str) -> list[JobEvent]:
    query = select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)
    return list(session.scalars(query).all())


def transition(
    session: Session,
    job_id: str,
    to: JobStatus,
    reason: str,
    *,
    allowed_from: Collection[JobStatus] | None = None,
    owner: str | None = None,
    **fields: Any,
) -> bool:
    """Move ``job_id`` to ``to`` if its current state allows it; record the event.

    ``allowed_from`` narrows the legal source states further (e.g. only a running job
    may be marked succeeded by its worker). ``owner``, when given, must still hold the
    lease: a worker whose lease expired and was taken over cannot end the job. Returns
    False when the job is not in a state that may move to ``to`` (nothing is written then).
    """
    for _ in range(MAX_CAS_RETRIES):
        current = session.scalar(select(Job.status).where(Job.id == job_id))
        if current is None:
            return False
        current_status = JobStatus(current)
        if to not in TRANSITIONS[current_status]:
            return False
        if allowed_from is not None and current_status not in allowed_from:
            return False
        values: dict[str, Any] = {"status": to, "updated_at": utcnow(), **fields}
        if to in FINISHED_STATUSES:
            values.setdefault("finished_at", utcnow())
            values.setdefault("lease_owner", None)
            values.setdefault("lease_expires_at", None)
        condition = [Job.id == job_id, Job.status == current_status]
        if owner is not None:
            condition.append(Job.lease_owner == owner)
        result = session.execute(update(Job).where(*condition).values(**values))
        if result.rowcount == 1:  # type: ignore[attr-defined]
            add_event(session, job_id, "transition", current_status, to, reason)
            session.flush()
            return True
    return False


def claim(session: Session, job_id: str, owner: str, lease: timedelta) -> Job | None:
    """Take a queued/interrupted job (or a running one whose lease ran out) for ``owner``.

    One conditional UPDATE: a second delivery of the same message, or a second worker,
    finds the row no longer claimable and does nothing (None). Returns the claimed row,
    read again in the claim's transaction: what the worker runs is what it claimed.
    """
    now = utcnow()
    current = session.get(Job, job_id)
    if current is None:
        return None
    from_status = current.status
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, claimable(now))
        .values(
            status=JobStatus.RUNNING,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=Job.attempts + 1,
            started_at=func.coalesce(Job.started_at, now),
            updated_at=now,
        )
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    session.refresh(current)  # the row as claimed; under our row lock
    reason = f"claimed by {owner} (attempt {current.attempts})"
    add_event(session, job_id, "transition", from_status, JobStatus.RUNNING, reason)
    session.flush()
    return current


def claimable(now: datetime) -> ColumnElement[bool]:
    """Waiting jobs, and running ones whose worker stopped renewing its lease."""
    return or_(
        Job.status.in_(WAITING_STATUSES),
        (Job.status == JobStatus.RUNNING) & (Job.lease_expires_at < now),
    )


def fair_next(session: Session, now: datetime, has_gpu: bool = False) -> str | None:
    """The job a free worker should take next, or None: tenants take turns.

    Among claimable jobs that fit the worker (a job that needs a GPU fits only a worker
    that ``has_gpu``; every other job fits every worker), the tenant with the fewest jobs
    running now goes first; among tenants tied on that (with one worker, every tenant has
    none running), the one whose last job started longest ago (or never); then that
    tenant's oldest job. A tenant with 50 queued jobs therefore alternates with a tenant
    that has one, whatever order the broker delivered their messages in.
    """
    fits = true() if has_gpu else Job.needs_gpu.is_(False)
    running = (
        select(Job.tenant_id, func.count().label("running"))
        .where(Job.status.in_(LEASED_STATUSES), Job.lease_expires_at >= now)
        .group_by(Job.tenant_id)
        .subquery()
    )
    last_start = (
        select(Job.tenant_id, func.max(Job.started_at).label("started"))
        .group_by(Job.tenant_id)
        .subquery()
    )
    query = (
        select(Job.id)
        .outerjoin(running, running.c.tenant_id == Job.tenant_id)
        .outerjoin(last_start, last_start.c.tenant_id == Job.tenant_id)
        .where(claimable(now), fits)
        .order_by(
            func.coalesce(running.c.running, 0),
            last_start.c.started.asc().nulls_first(),
            Job.created_at,
            Job.id,
        )
        .limit(1)
    )
    return session.scalar(query)


def claim_next(
    session: Session, owner: str, lease: timedelta, has_gpu: bool = False, attempts: int = 5
) -> Job | None:
    """Claim ``fair_next``'s job for ``owner``; on a lost race (another worker claimed it
    first) the next fair one, a few times. A broker message only wakes a worker: which job
    it runs is decided here, so the order is fair across tenants."""
    for _ in range(attempts):
        job_id = fair_next(session, utcnow(), has_gpu)
        if job_id is None:
            return None
        claimed = claim(session, job_id, owner, lease)
        if claimed is not None:
            return claimed
    return None


def renew_lease(
    session: Session, job_id: str, owner: str, lease: timedelta, ran_seconds: float = 0.0
) -> str | None:
    """Extend the lease if ``owner`` still holds it, adding ``ran_seconds`` (the running
    time since the last renewal) to the job's ``wall_seconds``; return the job's status, or
    None if the lease was lost."""
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner, Job.status.in_(LEASED_STATUSES))
        .values(lease_expires_at=utcnow() + lease, wall_seconds=Job.wall_seconds + ran_seconds)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return None
    return session.scalar(select(Job.status).where(Job.id == job_id))


def wall_time_exceeded(session: Session, job_id: str) -> bool:
    """Whether the job has run (over all its attempts) as long as it may."""
    used, allowed = session.execute(
        select(Job.wall_seconds, Job.max_wall_seconds).where(Job.id == job_id)
    ).one()
    return allowed is not None and used >= allowed


def update_progress(session: Session, job_id: str, owner: str, **fields: Any) -> None:
    """Write progress columns while ``owner`` holds the job (a lost lease writes nothing)."""
    session.execute(
        update(Job)
        .where(Job.id == job_id, Job.lease_owner == owner)
        .values(updated_at=utcnow(), **fields)
    )


def expired_leases(session: Session, now: datetime) -> list[Job]:
    """Running or cancelling jobs whose worker stopped renewing its lease."""
    query = select(Job).where(Job.status.in_(LEASED_STATUSES), Job.lease_expires_at < now)
    return list(session.scalars(query).all())


def waiting_since(session: Session, before: datetime) -> list[Job]:
    """Queued or interrupted jobs nobody touched since ``before``: their message may be lost."""
    query = select(Job).where(Job.status.in_(WAITING_STATUSES), Job.updated_at < before)
    return list(session.scalars(query).all())


def mark_resent(session: Session, job_id: str, before: datetime, reason: str) -> bool:
    """Stamp a job still waiting since ``before`` as re-sent now, with an event.

    Conditional like a transition, so a job is re-sent at most once per waiting period
    even if two reconcilers looked at it.
    """
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(WAITING_STATUSES), Job.updated_at < before)
        .values(updated_at=utcnow())
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        return False
    add_event(session, job_id, "requeued", None, None, reason)
    session.flush()
    return True
