"""Pretraining jobs: submit, list, inspect, follow metrics and events, cancel, delete."""

from __future__ import annotations

import hashlib
import json
import shutil
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Response
from fastapi.responses import FileResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.core.artifacts import job_dir, picture_path, pictures_dir
from api.core.persistence import deletion, jobs, metrics, trained_models
from api.core.persistence.recipes import recipe_columns
from api.core.persistence.tables import FINISHED_STATUSES, Job, JobStatus
from api.core.queue import RUN_JOB_TASK, commit_and_publish, job_queue
from api.core.settings import Settings
from api.deps import CeleryDep, SessionDep, SettingsDep
from api.errors import ApiError, validation_error
from api.lookups import dataset_field, labeled_dataset, parent_model_field
from api.method_catalog import validate_method_options
from api.quotas import check_storage_quota, check_work_quota, job_wall_seconds
from api.routes.jobs.views import get_job_or_404, jobs_out, one_job_out
from api.schemas.common import ERROR, MAX_SQL_INT, Page
from api.schemas.jobs import (
    JobCreate,
    JobEventOut,
    JobOut,
    MetricPoint,
    MetricSeries,
)
from ssl_engine.recipe import Recipe

router = APIRouter(prefix="/v1/jobs", tags=["jobs"])
STANDARD_SIZES = (16, 32, 64, 96, 128, 160, 192, 224)


def default_image_size(size_stats: dict[str, dict[str, float]]) -> int:
    """The largest standard size not above the mean image side: never upsample by default."""
    side = min(
        size_stats.get("width", {}).get("mean", 32), size_stats.get("height", {}).get("mean", 32)
    )
    return max((s for s in STANDARD_SIZES if s <= side), default=STANDARD_SIZES[0])


def request_hash(body: JobCreate) -> str:
    return hashlib.sha256(
        json.dumps(body.model_dump(mode="json"), sort_keys=True).encode()
    ).hexdigest()


@router.post("", response_model=JobOut, status_code=201, responses={409: ERROR})
def submit_job(
    body: JobCreate,
    session: SessionDep,
    celery: CeleryDep,
    settings: SettingsDep,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> JobOut:
    """Validate against the method's hyperparameter model, store the job, queue it."""
    digest = request_hash(body)
    if idempotency_key:
        existing = jobs.get_job_by_idempotency_key(session, idempotency_key)
        if existing is not None:
            return _replay(session, settings, existing, digest, response)
    backbone, hyperparameters = validate_method_options(
        body.method, body.backbone, body.hyperparameters
    )
    dataset = dataset_field(session, body.dataset_id)
    if body.batch_size > dataset.image_count:
        raise validation_error(
            [
                {
                    "field": "batch_size",
                    "message": f"batch_size {body.batch_size} exceeds the dataset's "
                    f"{dataset.image_count} images",
                }
            ]
        )
    if body.eval_dataset_id is not None:
        labeled_dataset(session, body.eval_dataset_id, "eval_dataset_id")
    recipe = Recipe(
        method=body.method,
        backbone=backbone,
        input_size=body.image_size or default_image_size(dataset.size_stats),
        hyperparameters=hyperparameters,
        parent_model_id=body.parent_model_id,
    )
    parent_model_field(session, recipe)
    check_work_quota(session, settings)
    check_storage_quota(session, settings, dataset.tenant_id)
    max_wall_seconds = job_wall_seconds(session, settings, body.max_wall_seconds)
    try:
        job = jobs.create_job(
            session,
            **recipe_columns(recipe),
            dataset_id=dataset.id,
            eval_dataset_id=body.eval_dataset_id,
            epochs=body.epochs,
            batch_size=body.batch_size,
            seed=body.seed,
            training=body.training.model_dump(mode="json"),
            max_wall_seconds=max_wall_seconds,
            needs_gpu=body.resources.gpu,
            idempotency_key=idempotency_key,
            request_hash=digest,
        )  # flushed: a concurrent request with the same key that won the insert fails here
    except IntegrityError:
        session.rollback()
        existing = jobs.get_job_by_idempotency_key(session, idempotency_key or "")
        if existing is None:
            raise
        return _replay(session, settings, existing, digest, response)
    commit_and_publish(session, celery, RUN_JOB_TASK, job, job_queue(job.needs_gpu))
    return one_job_out(session, settings, job)


def _replay(
    session: Session, settings: Settings, existing: Job, digest: str, response: Response
) -> JobOut:
    if existing.request_hash != digest:
        raise ApiError(
            409,
            "idempotency_conflict",
            "this Idempotency-Key was used with a different request body",
            {"job_id": existing.id},
        )
    response.status_code = 200
    return one_job_out(session, settings, existing)


@router.get("", response_model=Page[JobOut])
def list_jobs(
    session: SessionDep,
    settings: SettingsDep,
    status: Annotated[list[JobStatus] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> Page[JobOut]:
    """Jobs, newest first; ``status`` may repeat to filter on several states."""
    rows, total = jobs.list_jobs(
        session, status=[str(s) for s in status or []], limit=limit, offset=offset
    )
    return Page(items=jobs_out(session, settings, rows), total=total, limit=limit, offset=offset)


@router.get("/{job_id}", response_model=JobOut)
def get_job(job_id: str, session: SessionDep, settings: SettingsDep) -> JobOut:
    """Status, progress, latest metrics, failure reason, model id, stored bytes of a job."""
    return one_job_out(session, settings, get_job_or_404(session, job_id))


@router.get("/{job_id}/metrics", response_model=MetricSeries)
def get_metrics(
    job_id: str,
    session: SessionDep,
    since_step: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
    name: Annotated[list[str] | None, Query()] = None,
) -> MetricSeries:
    """Metric series by name, for steps after ``since_step``."""
    get_job_or_404(session, job_id)
    series: dict[str, list[MetricPoint]] = {}
    for row in metrics.metric_series(session, job_id, since_step=since_step, names=name):
        series.setdefault(row.name, []).append(
            MetricPoint(step=row.step, epoch=row.epoch, value=row.value)
        )
    return MetricSeries(job_id=job_id, series=series)


@router.get(
    "/{job_id}/samples/{epoch}",
    response_class=Response,
    responses={200: {"content": {"image/png": {}}, "description": "A PNG grid."}, 404: ERROR},
)
def get_picture(
    job_id: str,
    epoch: Annotated[int, Path(ge=0, le=MAX_SQL_INT)],
    session: SessionDep,
    settings: SettingsDep,
) -> Response:
    """The picture of an epoch (0-based): samples or reconstructions, see ``pictures``."""
    job = get_job_or_404(session, job_id)
    picture = picture_path(pictures_dir(settings, job.tenant_id, job.id), epoch)
    if not picture.is_file():
        raise ApiError(404, "picture_not_found", f"job {job_id} has no picture of epoch {epoch}")
    return FileResponse(picture, media_type="image/png")


@router.get("/{job_id}/events", response_model=list[JobEventOut])
def get_events(job_id: str, session: SessionDep) -> list[JobEventOut]:
    """Every state transition (with its reason) and trainer event, oldest first."""
    get_job_or_404(session, job_id)
    return [JobEventOut.model_validate(e) for e in jobs.list_events(session, job_id)]


@router.post("/{job_id}/cancel", response_model=JobOut, status_code=202, responses={409: ERROR})
def cancel_job(job_id: str, session: SessionDep, settings: SettingsDep) -> JobOut:
    """Cancel: a waiting job at once; a running one checkpoints and stops (cooperative)."""
    job = get_job_or_404(session, job_id)
    if job.status in FINISHED_STATUSES:
        raise ApiError(409, "job_finished", f"job {job_id} already {job.status}")
    reason = "cancel requested over HTTP"
    if not (
        jobs.transition(
            session,
            job_id,
            JobStatus.CANCELLED,
            reason,
            allowed_from={JobStatus.QUEUED, JobStatus.INTERRUPTED},
        )
        or jobs.transition(
            session, job_id, JobStatus.CANCELLING, reason, allowed_from={JobStatus.RUNNING}
        )
        or job.status == JobStatus.CANCELLING
    ):
        session.refresh(job)
        raise ApiError(409, "job_finished", f"job {job_id} already {job.status}")
    session.refresh(job)
    return one_job_out(session, settings, job)


@router.delete("/{job_id}", status_code=204, responses={409: ERROR})
def delete_job(job_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a finished job: its row, metrics, events and checkpoints.

    409 ``job_active`` while it is queued or running (cancel it first), 409
    ``job_has_model`` while the model it published exists (delete the model first). Then
    a 404 like any missing job.
    """
    job = get_job_or_404(session, job_id)
    if job.status not in FINISHED_STATUSES:
        raise ApiError(409, "job_active", f"job {job_id} is {job.status}; cancel it first")
    if job.model_id is not None and trained_models.get_model(session, job.model_id):
        raise ApiError(
            409,
            "job_has_model",
            f"job {job_id} published model {job.model_id}; delete the model first",
            {"model_id": job.model_id},
        )
    folder = job_dir(settings, job.tenant_id, job_id)
    deletion.delete_job(session, job)
    session.commit()  # the rows first: a crash now leaves files no row points at
    shutil.rmtree(folder, ignore_errors=True)
    return Response(status_code=204)
