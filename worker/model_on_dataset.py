"""What the tasks that run a trained model over a dataset (probe, embedding) read first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from api.persistence import datasets, trained_models
from worker.job_data import JobInputError


@dataclass(frozen=True)
class ModelOnDataset:
    """The task row's id with its model's rebuild recipe and its dataset's folder."""

    id: str
    tenant_id: str
    weights_path: Path
    method: str
    backbone: str
    image_size: int
    hyperparameters: dict[str, Any]
    dataset_path: Path


def read_model_on_dataset(
    session: Session, row_id: str, tenant_id: str, model_id: str, dataset_id: str, kind: str
) -> ModelOnDataset:
    """Detach what the task needs; JobInputError if the model or dataset was removed.

    Both must belong to the row's tenant (the API checks that too; this is the second lock).
    """
    model = trained_models.get_model(session, model_id)
    dataset = datasets.get_dataset(session, dataset_id)
    if model is None or dataset is None or {model.tenant_id, dataset.tenant_id} != {tenant_id}:
        raise JobInputError(f"the model or the dataset of this {kind} no longer exists")
    return ModelOnDataset(
        id=row_id,
        tenant_id=tenant_id,
        weights_path=Path(model.weights_path),
        method=model.method,
        backbone=model.backbone,
        image_size=model.image_size,
        hyperparameters=dict(model.hyperparameters),
        dataset_path=Path(dataset.path),
    )
