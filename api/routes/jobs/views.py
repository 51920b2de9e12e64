"""A job row as the API shows it, and the 404 of a job the caller cannot see; shared by
the job routes and their event streams."""

from __future__ import annotations

from sqlalchemy.orm import Session

from api.core.persistence import jobs
from api.core.persistence.tables import Job, JobStatus
from api.errors import not_found
from api.schemas.jobs import JobOut, Progress


def job_out(job: Job) -> JobOut:
    fraction = job.step / job.total_steps if job.total_steps else 0.0
    if job.status == JobStatus.SUCCEEDED:
        fraction = 1.0
    return JobOut(
        id=job.id,
        method=job.method,
        dataset_id=job.dataset_id,
        eval_dataset_id=job.eval_dataset_id,
        backbone=job.backbone,
        image_size=job.image_size,
        epochs=job.epochs,
        batch_size=job.batch_size,
        seed=job.seed,
        hyperparameters=dict(job.hyperparameters),
        training=dict(job.training),
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
        created_at=job.created_at,
        started_at=job.started_at,
        finished_at=job.finished_at,
    )


def get_job_or_404(session: Session, job_id: str) -> Job:
    job = jobs.get_job(session, job_id)
    if job is None:
        raise not_found("job", job_id)
    return job
