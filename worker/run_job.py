"""Run one claimed job through ssl_engine and record how it ended."""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
from sqlalchemy.orm import Session

from api.errors import ApiError
from api.persistence import datasets, jobs, trained_models
from api.persistence.db import session_scope
from api.persistence.models import Job, JobStatus
from api.queue import publish_job
from api.settings import Settings
from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.loader import BatchLoader
from ssl_engine.data.scan import scan_image_folder
from ssl_engine.factory import build_method
from ssl_engine.trainer import NonFiniteLossError, TrainConfig, TrainResult, train
from worker.heartbeat import Heartbeat, StopReason
from worker.job_hooks import DatabaseHooks

log = logging.getLogger(__name__)
S = JobStatus


class JobInputError(Exception):
    """The job cannot run as submitted (e.g. its dataset has no readable image)."""


@dataclass(frozen=True)
class JobSpec:
    """The parts of a job row the worker needs, detached from the session."""

    id: str
    method: str
    dataset_id: str
    dataset_path: str
    backbone: str
    image_size: int
    epochs: int
    batch_size: int
    seed: int
    hyperparameters: dict[str, object]
    training: dict[str, object]


def worker_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def select_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def run_job(settings: Settings, job_id: str) -> str | None:
    """Claim ``job_id`` and train it. Returns the final status, or None if not claimed."""
    url = settings.resolved_database_url
    owner = worker_identity()
    lease = timedelta(seconds=settings.lease_seconds)
    with session_scope(url) as session:
        if not jobs.claim(session, job_id, owner, lease):
            log.info("job %s not claimable (duplicate delivery or finished); skipping", job_id)
            return None
        spec = _spec(session, job_id)

    with Heartbeat(url, job_id, owner, lease) as heartbeat:
        hooks = DatabaseHooks(url, job_id, owner, heartbeat)
        try:
            result, embed_dim = _train(settings, spec, hooks)
        except NonFiniteLossError as error:
            return _finish(url, job_id, S.FAILED, str(error))
        except JobInputError as error:
            return _finish(url, job_id, S.FAILED, str(error))
        except Exception as error:
            log.exception("job %s crashed", job_id)
            return _finish(url, job_id, S.FAILED, f"{type(error).__name__}: {error}")

    if result.completed:
        return _succeed(settings, spec, result, embed_dim, hooks.latest_metrics)
    reason = heartbeat.stop_reason
    if reason is StopReason.CANCELLED:
        return _finish(
            url, job_id, S.CANCELLED, f"cancelled at step {result.steps}; checkpoint kept"
        )
    if reason is StopReason.SHUTDOWN:
        status = _finish(
            url, job_id, S.INTERRUPTED, f"worker shut down at step {result.steps}; will resume"
        )
        _requeue(job_id)
        return status
    log.warning("job %s: lease lost to another worker; stopped without writing", job_id)
    return None


def _spec(session: Session, job_id: str) -> JobSpec:
    job = jobs.get_job(session, job_id)
    assert job is not None
    dataset = datasets.get_dataset(session, job.dataset_id)
    if dataset is None:
        raise JobInputError(f"dataset {job.dataset_id} no longer exists")
    return JobSpec(
        id=job.id,
        method=job.method,
        dataset_id=job.dataset_id,
        dataset_path=dataset.path,
        backbone=job.backbone,
        image_size=job.image_size,
        epochs=job.epochs,
        batch_size=job.batch_size,
        seed=job.seed,
        hyperparameters=dict(job.hyperparameters),
        training=dict(job.training),
    )


def _train(settings: Settings, spec: JobSpec, hooks: DatabaseHooks) -> tuple[TrainResult, int]:
    """Prepare data and method, then train; returns the result and the embedding size."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    device = select_device(settings.device)
    root = Path(spec.dataset_path)
    scan = scan_image_folder(root)
    cached = build_uint8_cache(root, scan.files, spec.image_size, settings.cache_dir)
    skipped = len(scan.unreadable) + len(cached.failed)
    if len(cached.kept) == 0:
        raise JobInputError(f"dataset at {root} has no readable image ({skipped} unreadable)")
    labels = None
    if scan.labels is not None:
        labels = torch.tensor(cached.select(scan.labels), dtype=torch.long)
    hooks.on_event(
        "data_ready", f"{len(cached.kept)} images at {spec.image_size}px; {skipped} skipped"
    )
    loader = BatchLoader(cached.images, labels, spec.batch_size, device, spec.seed)
    torch.manual_seed(spec.seed)  # initial weights follow the job's seed too
    method = build_method(
        spec.method,
        backbone=spec.backbone,
        image_size=spec.image_size,
        hyperparameters=spec.hyperparameters,
    )
    config = TrainConfig(
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=spec.seed,
        log_every_steps=settings.progress_every_steps,
        **spec.training,  # type: ignore[arg-type]
    )
    checkpoint_dir = settings.job_dir(spec.id) / "checkpoints"
    result = train(method, loader, config, checkpoint_dir, hooks, device=device)
    return result, int(method.embed_dim)


def _succeed(
    settings: Settings,
    spec: JobSpec,
    result: TrainResult,
    embed_dim: int,
    final_metrics: dict[str, float],
) -> str:
    """Publish the final weights as a model and mark the job succeeded, atomically."""
    url = settings.resolved_database_url
    with session_scope(url) as session:
        job = jobs.get_job(session, spec.id)
        assert job is not None
        model = trained_models.create_model(
            session,
            job_id=spec.id,
            dataset_id=spec.dataset_id,
            method=spec.method,
            backbone=spec.backbone,
            image_size=spec.image_size,
            hyperparameters=spec.hyperparameters,
            embed_dim=embed_dim,
            weights_path="",
            metrics=final_metrics,
        )
        weights = _publish_weights(settings, model.id, spec, result.checkpoint)
        model.weights_path = str(weights)
        if not jobs.transition(
            session,
            spec.id,
            S.SUCCEEDED,
            f"trained {result.steps} steps",
            allowed_from={S.RUNNING, S.CANCELLING},
            model_id=model.id,
            step=result.steps,
        ):
            session.rollback()
            shutil.rmtree(weights.parent, ignore_errors=True)
            return _current_status(url, spec.id)
    return S.SUCCEEDED


def _publish_weights(settings: Settings, model_id: str, spec: JobSpec, checkpoint: Path) -> Path:
    target_dir = settings.artifacts_dir / "models" / model_id
    target_dir.mkdir(parents=True, exist_ok=True)
    source = checkpoint / "model.safetensors" if checkpoint.is_dir() else checkpoint
    target = target_dir / "model.safetensors"
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    card = {
        "method": spec.method,
        "backbone": spec.backbone,
        "image_size": spec.image_size,
        "hyperparameters": spec.hyperparameters,
        "job_id": spec.id,
        "dataset_id": spec.dataset_id,
    }
    (target_dir / "config.json").write_text(json.dumps(card, indent=2))
    return target


def _finish(url: str, job_id: str, status: JobStatus, reason: str) -> str:
    fields: dict[str, Any] = {}
    if status is S.FAILED:
        fields["failure_reason"] = reason
    with session_scope(url) as session:
        if jobs.transition(session, job_id, status, reason, **fields):
            return status
    return _current_status(url, job_id)


def _current_status(url: str, job_id: str) -> str:
    with session_scope(url) as session:
        job: Job | None = jobs.get_job(session, job_id)
        return job.status if job else "missing"


def _requeue(job_id: str) -> None:
    from worker.celery_app import celery_app

    try:
        publish_job(celery_app, job_id)
    except ApiError:  # the reconciler re-queues interrupted jobs too
        log.warning("could not re-queue job %s; the reconciler will", job_id)
