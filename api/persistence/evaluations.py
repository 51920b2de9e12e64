"""Evaluation rows: queued by the API, claimed and finished by a worker.

Like jobs, every change of state is one conditional UPDATE on the status it expects, so a
duplicate message or a second worker finds nothing to claim and does nothing.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.persistence.models import Evaluation, JobStatus, Model, utcnow

S = JobStatus


def create_evaluation(session: Session, *, model_id: str, dataset_id: str) -> Evaluation:
    evaluation = Evaluation(model_id=model_id, dataset_id=dataset_id, status=S.QUEUED, metrics={})
    session.add(evaluation)
    session.flush()
    return evaluation


def get_evaluation(session: Session, evaluation_id: str) -> Evaluation | None:
    return session.get(Evaluation, evaluation_id)


def list_for_model(session: Session, model_id: str) -> list[Evaluation]:
    """A model's evaluations, newest first."""
    query = (
        select(Evaluation)
        .where(Evaluation.model_id == model_id)
        .order_by(Evaluation.created_at.desc(), Evaluation.id)
    )
    return list(session.scalars(query).all())


def claim(session: Session, evaluation_id: str) -> bool:
    """queued -> running; False when another delivery or worker got there first."""
    result = session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status == S.QUEUED)
        .values(status=S.RUNNING, started_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def fail(session: Session, evaluation_id: str, reason: str) -> bool:
    """running -> failed with ``reason``."""
    return _finish(session, evaluation_id, status=S.FAILED, failure_reason=reason)


def succeed(session: Session, evaluation_id: str, top1: float, metrics: dict[str, Any]) -> bool:
    """running -> succeeded; ``top1`` is also stored on the model as ``linear_top1``."""
    if not _finish(session, evaluation_id, status=S.SUCCEEDED, top1=top1, metrics=metrics):
        return False
    evaluation = session.get(Evaluation, evaluation_id)
    assert evaluation is not None
    model = session.get(Model, evaluation.model_id)
    if model is not None:  # reassigned, not mutated, so the JSON column is marked dirty
        model.metrics = {**model.metrics, "linear_top1": top1}
    return True


def _finish(session: Session, evaluation_id: str, **values: Any) -> bool:
    result = session.execute(
        update(Evaluation)
        .where(Evaluation.id == evaluation_id, Evaluation.status == S.RUNNING)
        .values(finished_at=utcnow(), **values)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]
