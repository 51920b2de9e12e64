"""Metric series: one row per (job, step, name); a re-written step replaces, never duplicates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.core.persistence.tables import Metric


def record_metrics(
    session: Session, job_id: str, step: int, epoch: int, values: Mapping[str, float]
) -> None:
    """Store ``values`` at ``step``; a step replayed after a resume overwrites its rows."""
    if not values:
        return
    session.execute(
        delete(Metric).where(
            Metric.job_id == job_id, Metric.step == step, Metric.name.in_(list(values))
        )
    )
    session.add_all(
        Metric(job_id=job_id, step=step, epoch=epoch, name=name, value=float(value))
        for name, value in values.items()
    )


def metric_series(
    session: Session,
    job_id: str,
    *,
    since_step: int = 0,
    names: list[str] | None = None,
    limit: int = 10_000,
) -> list[Metric]:
    query = select(Metric).where(Metric.job_id == job_id, Metric.step > since_step)
    if names:
        query = query.where(Metric.name.in_(names))
    query = query.order_by(Metric.step, Metric.name).limit(limit)
    return list(session.scalars(query).all())


def metrics_after(session: Session, job_id: str, after_id: int, limit: int) -> Sequence[Metric]:
    """Up to ``limit`` of the job's metric rows with an id above ``after_id``, by id."""
    return session.scalars(
        select(Metric)
        .where(Metric.job_id == job_id, Metric.id > after_id)
        .order_by(Metric.id)
        .limit(limit)
    ).all()
