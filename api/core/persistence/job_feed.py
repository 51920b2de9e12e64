"""What a job's live stream reads: jobs that may still change, and events after a cursor."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from api.core.persistence.tables import FINISHED_STATUSES, Job, JobEvent, utcnow


def unfinished_or_changed_since(session: Session, window: timedelta) -> Sequence[Job]:
    """Jobs not finished yet, or changed within the last ``window``."""
    return session.scalars(
        select(Job).where(
            or_(Job.status.not_in(FINISHED_STATUSES), Job.updated_at >= utcnow() - window)
        )
    ).all()


def events_after(session: Session, job_id: str, after_id: int) -> Sequence[JobEvent]:
    """The job's events with an id above ``after_id``, oldest first."""
    return session.scalars(
        select(JobEvent)
        .where(JobEvent.job_id == job_id, JobEvent.id > after_id)
        .order_by(JobEvent.id)
    ).all()
