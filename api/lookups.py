"""Lookups that several routes share, with the error each failure is."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.core.persistence import datasets, trained_models
from api.core.persistence.recipes import recipe_of
from api.core.persistence.tables import Dataset, TrainedModel
from api.errors import ApiError, not_found, validation_error
from ssl_engine.parent_models import needs_parent, parent_mismatch
from ssl_engine.recipe import Recipe


def model_or_404(session: Session, model_id: str) -> TrainedModel:
    model = trained_models.get_model(session, model_id)
    if model is None:
        raise not_found("model", model_id)
    return model


def dataset_field(session: Session, dataset_id: str, field: str = "dataset_id") -> Dataset:
    """A ready dataset named in a request body: a missing one is a 422 on that field, one
    still ingesting or whose ingest failed a 409 ``dataset_not_ready``."""
    dataset = datasets.get_dataset(session, dataset_id)
    if dataset is None:
        raise validation_error([{"field": field, "message": f"no dataset with id {dataset_id!r}"}])
    if dataset.state != "ready":
        reason = f": {dataset.failure_reason}" if dataset.failure_reason else ""
        raise ApiError(
            409,
            "dataset_not_ready",
            f"dataset {dataset.id} is {dataset.state}{reason}; a job, probe or embedding "
            "needs a ready dataset (GET /v1/datasets/{id} shows its state)",
            {"field": field, "dataset_id": dataset.id, "state": dataset.state},
        )
    return dataset


def labeled_dataset(session: Session, dataset_id: str, field: str = "dataset_id") -> Dataset:
    """A dataset to evaluate on: it must exist and have at least two classes (else 422)."""
    dataset = dataset_field(session, dataset_id, field)
    if len(dataset.classes) < 2:
        raise ApiError(
            422,
            "dataset_not_labeled",
            f"dataset {dataset.id} needs class sub-folders (at least two classes) to "
            f"evaluate on; it has {len(dataset.classes)}",
            {"field": field, "dataset_id": dataset.id},
        )
    return dataset


def parent_model_field(session: Session, child: Recipe) -> None:
    """The model ``child`` names as its parent: a 404 when the caller has no such model,
    a 422 on ``parent_model_id`` when it cannot be ``child``'s parent or ``child``'s
    method needs one and none is named."""
    if child.parent_model_id is None:
        if needs_parent(child):
            message = f"{child.method} trains on the clusters of a parent model's features"
            raise validation_error([{"field": "parent_model_id", "message": message}])
        return
    parent = model_or_404(session, child.parent_model_id)
    reason = parent_mismatch(recipe_of(parent), child)
    if reason is not None:
        raise validation_error([{"field": "parent_model_id", "message": reason}])
