"""What a worker needs of the job it claimed, read in the claim's transaction."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from api.core.persistence import datasets, trained_models
from api.core.persistence.recipes import recipe_of
from api.core.persistence.tables import Job
from ssl_engine.recipe import Recipe
from worker.job_data import JobInputError


@dataclass(frozen=True)
class ParentModel:
    """The trained model a job starts from: how to rebuild it and where its weights are."""

    id: str
    recipe: Recipe
    weights_path: str


@dataclass(frozen=True)
class JobSpec:
    """The recipe a job trains and what only the job has: its data and training run."""

    id: str
    tenant_id: str
    recipe: Recipe
    dataset_id: str
    dataset_path: str
    eval_dataset_path: str | None  # a separate labeled dataset for the online kNN
    epochs: int
    batch_size: int
    seed: int
    training: Mapping[str, object]  # the user's training options, by TrainConfig field name
    parent: ParentModel | None = None  # the model whose encoder the run starts from


def job_spec(session: Session, job: Job) -> JobSpec:
    """``job`` (just claimed in ``session``) with its datasets' folders, detached.

    JobInputError if the dataset, the evaluation dataset or the parent model is gone or
    not the job's tenant's.
    """
    dataset = datasets.get_dataset(session, job.dataset_id)
    if dataset is None or dataset.tenant_id != job.tenant_id:
        raise JobInputError(f"dataset {job.dataset_id} no longer exists")
    eval_path = None
    if job.eval_dataset_id is not None:
        evaluation = datasets.get_dataset(session, job.eval_dataset_id)
        if evaluation is None or evaluation.tenant_id != job.tenant_id:
            raise JobInputError(f"evaluation dataset {job.eval_dataset_id} no longer exists")
        eval_path = evaluation.path
    parent = None
    if job.parent_model_id is not None:
        model = trained_models.get_model(session, job.parent_model_id)
        if model is None or model.tenant_id != job.tenant_id:
            raise JobInputError(f"parent model {job.parent_model_id} no longer exists")
        parent = ParentModel(model.id, recipe_of(model), model.weights_path)
    return JobSpec(
        id=job.id,
        tenant_id=job.tenant_id,
        recipe=recipe_of(job),
        dataset_id=job.dataset_id,
        dataset_path=dataset.path,
        eval_dataset_path=eval_path,
        epochs=job.epochs,
        batch_size=job.batch_size,
        seed=job.seed,
        training=dict(job.training),
        parent=parent,
    )
