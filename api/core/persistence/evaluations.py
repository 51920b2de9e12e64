"""Evaluation rows: queued by the API, claimed and finished by a worker.

Claims, leases and failures are ``api.core.persistence.model_tasks``'s, shared with dataset
embeddings.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from api.core.persistence import model_tasks, rows
from api.core.persistence.tables import Evaluation, JobStatus, TrainedModel


def create_evaluation(session: Session, *, model_id: str, dataset_id: str) -> Evaluation:
    evaluation = Evaluation(
        model_id=model_id, dataset_id=dataset_id, status=JobStatus.QUEUED, metrics={}
    )
    return rows.insert(session, evaluation)


def get_evaluation(session: Session, evaluation_id: str) -> Evaluation | None:
    return session.get(Evaluation, evaluation_id)


def list_for_model(session: Session, model_id: str) -> list[Evaluation]:
    """A model's evaluations, newest first."""
    return rows.of_model_newest_first(session, Evaluation, model_id)


def succeed(
    session: Session, evaluation_id: str, owner: str, top1: float, metrics: dict[str, Any]
) -> bool:
    """running -> succeeded while ``owner`` holds the lease; ``top1`` is also stored on the
    model as ``linear_top1``."""
    if not model_tasks.finish(
        session, Evaluation, evaluation_id, owner, JobStatus.SUCCEEDED, top1=top1, metrics=metrics
    ):
        return False
    evaluation = session.get(Evaluation, evaluation_id)
    assert evaluation is not None
    model = session.get(TrainedModel, evaluation.model_id)
    if model is not None:  # reassigned, not mutated, so the JSON column is marked dirty
        model.metrics = {**model.metrics, "linear_top1": top1}
    return True
