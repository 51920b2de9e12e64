"""Randomly initialised models saved and registered as if a job had trained them."""

from __future__ import annotations

from pathlib import Path

import torch
from safetensors.torch import save_file

from api.core.persistence import datasets, jobs, trained_models
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT
from api.serving.model_cache import ModelSpec
from ssl_engine.factory import build_method
from ssl_engine.recipe import Recipe


def save_random_model(
    folder: Path, method: str = "simclr", backbone: str = "tiny_cnn", image_size: int = 16
) -> ModelSpec:
    """Weights of a freshly built method in ``folder/model.safetensors``, and their spec."""
    torch.manual_seed(0)
    model = build_method(Recipe(method, backbone, image_size))
    folder.mkdir(parents=True, exist_ok=True)
    weights = folder / "model.safetensors"
    save_file({k: v.contiguous().clone() for k, v in model.state_dict().items()}, str(weights))
    return ModelSpec(
        model_id=folder.name,
        tenant_id=LOCAL_TENANT,
        recipe=Recipe(method, backbone, image_size),
        weights_path=weights,
    )


def register_random_model(
    database_url: str,
    folder: Path,
    *,
    dataset_path: Path | None = None,
    dataset_id: str | None = None,
    method: str = "simclr",
    backbone: str = "tiny_cnn",
    image_size: int = 16,
    tenant: str = LOCAL_TENANT,
) -> str:
    """A model row (with its job row, and a dataset row of ``dataset_path`` unless
    ``dataset_id`` names one) for random weights saved in ``folder``."""
    spec = save_random_model(folder, method, backbone, image_size)
    with session_scope(database_url, tenant=tenant) as session:
        if dataset_id is None:
            dataset_id = datasets.create_dataset(
                session, name="d", path=str(dataset_path or "/x"), image_count=4
            ).id
        job = jobs.create_job(
            session, method=method, dataset_id=dataset_id, backbone=backbone,
            image_size=image_size, epochs=1, batch_size=2, seed=0,
        )  # fmt: skip
        embed_dim = build_method(Recipe(method, backbone, image_size)).embed_dim
        model = trained_models.create_model(
            session, job_id=job.id, dataset_id=dataset_id, method=method, backbone=backbone,
            image_size=image_size, hyperparameters={}, embed_dim=embed_dim,
            weights_path=str(spec.weights_path), metrics={"loss": 1.0},
        )  # fmt: skip
        return model.id
