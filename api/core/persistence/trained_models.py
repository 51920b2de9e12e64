"""Rows of trained models (one per succeeded job)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.persistence import rows
from api.core.persistence.tables import TrainedModel


def create_model(session: Session, **fields: Any) -> TrainedModel:
    return rows.insert(session, TrainedModel(**fields))


def get_model(session: Session, model_id: str) -> TrainedModel | None:
    return session.get(TrainedModel, model_id)


def list_models(session: Session, *, limit: int, offset: int) -> tuple[list[TrainedModel], int]:
    return rows.newest_first_page(session, TrainedModel, limit=limit, offset=offset)


MAX_LINEAGE = 100  # ancestors a model records; older ones are left out


def lineage_of(session: Session, parent_id: str | None) -> list[dict[str, Any]]:
    """The ancestry a model trained from ``parent_id`` records, nearest first: the parent
    (model, job, method, backbone, dataset), then the parent's own lineage."""
    if parent_id is None:
        return []
    parent = get_model(session, parent_id)
    if parent is None:  # deleted meanwhile: the id is all that is known
        return [{"model_id": parent_id}]
    entry = {
        "model_id": parent.id,
        "job_id": parent.job_id,
        "method": parent.method,
        "backbone": parent.backbone,
        "dataset_id": parent.dataset_id,
    }
    return [entry, *parent.lineage][:MAX_LINEAGE]


def existing_among(session: Session, model_ids: Iterable[str]) -> set[str]:
    """Those of ``model_ids`` that are still models of the session's tenant."""
    wanted = set(model_ids)
    if not wanted:
        return set()
    return set(session.scalars(select(TrainedModel.id).where(TrainedModel.id.in_(wanted))))
