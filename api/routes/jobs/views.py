"""Job rows as the API shows them, and the 404 of a job the caller cannot see; shared by
the job routes and their event streams."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.orm import Session

from api.core.artifacts import picture_epochs, pictures_dir
from api.core.persistence import datasets, jobs
from api.core.persistence.tables import Job, JobStatus
from api.core.settings import Settings
from api.core.storage import job_bytes
from api.errors import not_found
from api.schemas.jobs import JobOut, JobResources, Progress


def jobs_out(session: Session, settings: Settings, rows: Sequence[Job]) -> list[JobOut]:
    """The jobs with the bytes each stores and whether its dataset was deleted."""
    deleted = datasets.deleted_among(session, (job.dataset_id for job in rows))
    return [
        job_out(
            job,
            stored_bytes=job_bytes(settings, job),
            dataset_deleted=job.dataset_id in deleted,
            pictures=picture_epochs(pictures_dir(settings, job.tenant_id, job.id)),
        )
        for job in rows
    ]


def one_job_out(session: Session, settings: Settings, job: Job) -> JobOut:
    return jobs_out(session, settings, [job])[0]


def job_out(job: Job, *, stored_bytes: int, dataset_deleted: bool, pictures: list[int]) -> JobOut:
    fraction = job.step / job.total_steps if job.total_steps else 0.0
    if job.status == JobStatus.SUCCEEDED:
        fraction = 1.0
    return JobOut(
        id=job.id,
        method=job.method,
        dataset_id=job.dataset_id,
        dataset_deleted=dataset_deleted,
        eval_dataset_id=job.eval_dataset_id,
        backbone=job.backbone,
        parent_model_id=job.parent_model_id,
        image_size=job.image_size,
        epochs=job.epochs,
        batch_size=job.batch_size,
        seed=job.seed,
        hyperparameters=dict(job.hyperparameters),
        training=dict(job.training),
        resources=JobResources(gpu=job.needs_gpu),
        status=job.status,
        attempts=job.attempts,
        progress=Progress(
            epoch=job.epoch,
            step=job.step,
            total_steps=job.total_steps,
            fraction=round(min(fraction, 1.0), 4),
            images_per_sec=job.images_per_sec,
            eta_seconds=job.eta_seconds,
        ),
        latest_metrics=dict(job.latest_metrics),
        failure_reason=job.failure_reason,
        wall_seconds=round(job.wall_seconds, 1),
        max_wall_seconds=job.max_wall_seconds,
        model_id=job.model_id,
        stored_bytes=stored_bytes,
        pictures=pictures,
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def get_job_or_404(session: Session, job_id: str) -> Job:
    job = jobs.get_job(session, job_id)
    if job is None:
        raise not_found("job", job_id)
    return job
