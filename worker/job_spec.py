"""The parts of a job row a worker needs, read once and detached from the session."""

from __future__ import annotations

from dataclasses import dataclass

from api.core.persistence import datasets, jobs
from api.core.persistence.db import session_scope
from worker.job_data import JobInputError


@dataclass(frozen=True)
class JobSpec:
    id: str
    tenant_id: str
    method: str
    dataset_id: str
    dataset_path: str
    eval_dataset_path: str | None  # a separate labeled dataset for the online kNN
    backbone: str
    image_size: int
    epochs: int
    batch_size: int
    seed: int
    hyperparameters: dict[str, object]
    training: dict[str, object]


def read_spec(database_url: str, job_id: str) -> JobSpec:
    """The job and its dataset's folder; JobInputError if the dataset is gone."""
    with session_scope(database_url, tenant=None) as session:
        job = jobs.get_job(session, job_id)
        if job is None:
            raise JobInputError(f"job {job_id} no longer exists")
        dataset = datasets.get_dataset(session, job.dataset_id)
        if dataset is None or dataset.tenant_id != job.tenant_id:
            raise JobInputError(f"dataset {job.dataset_id} no longer exists")
        eval_path = None
        if job.eval_dataset_id is not None:
            evaluation = datasets.get_dataset(session, job.eval_dataset_id)
            if evaluation is None or evaluation.tenant_id != job.tenant_id:
                raise JobInputError(f"evaluation dataset {job.eval_dataset_id} no longer exists")
            eval_path = evaluation.path
        return JobSpec(
            id=job.id,
            tenant_id=job.tenant_id,
            method=job.method,
            dataset_id=job.dataset_id,
            dataset_path=dataset.path,
            eval_dataset_path=eval_path,
            backbone=job.backbone,
            image_size=job.image_size,
            epochs=job.epochs,
            batch_size=job.batch_size,
            seed=job.seed,
            hyperparameters=dict(job.hyperparameters),
            training=dict(job.training),
        )
