"""What the tasks that run a trained model over a dataset (probe, embedding) read first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch
from sqlalchemy.orm import Session

from api.core.persistence import datasets, trained_models
from api.core.persistence.recipes import recipe_of
from api.core.settings import Settings
from ssl_engine.acceleration import resolve_device
from ssl_engine.inference import load_for_inference
from ssl_engine.methods.base import Method
from ssl_engine.recipe import Recipe
from worker.job_data import JobImages, JobInputError, dataset_images


@dataclass(frozen=True)
class ModelOnDataset:
    """The task row's id with its model's recipe and weights, and its dataset's folder."""

    id: str
    tenant_id: str
    recipe: Recipe
    weights_path: Path
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
        recipe=recipe_of(model),
        weights_path=Path(model.weights_path),
        dataset_path=Path(dataset.path),
    )


def load_model_and_images(
    settings: Settings, spec: ModelOnDataset
) -> tuple[Method, JobImages, torch.device]:
    """The model as it is served (eval mode, on the worker's device) and the dataset's
    images decoded at the model's resolution (the cache training uses)."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    device = resolve_device(settings.device)
    data = dataset_images(settings, spec.dataset_path, spec.recipe.input_size)
    model = load_for_inference(spec.weights_path, spec.recipe, device)
    return model, data, device
