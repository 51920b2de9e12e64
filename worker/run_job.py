"""Run one job: claim it, train it under a heartbeat, and record how it ended.

Every way a run can end maps to one state: trained -> ``succeeded`` (with a model);
cancelled -> ``cancelled`` (checkpoint kept); worker shutting down -> ``interrupted`` and
re-queued; bad input, a non-finite loss or a checkpoint that cannot be written ->
``failed`` with the reason. The final writes name this worker as the lease holder, so a
worker whose lease was taken over can no longer end the job.
"""

from __future__ import annotations

import logging
import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch

from api.core.artifacts import checkpoints_dir, pictures_dir
from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.leases import lease_owner
from api.core.persistence.tables import JobStatus, utcnow
from api.core.queue import GPU_QUEUE, RUN_JOB_TASK, BrokerUnavailable, job_queue, publish
from api.core.settings import Settings
from ssl_engine.acceleration import resolve_device
from ssl_engine.checkpoint import CheckpointWriteError
from ssl_engine.data.loader import BatchLoader
from ssl_engine.evaluation.online import KnnEvaluator, hold_out_for_knn
from ssl_engine.factory import build_method
from ssl_engine.parent_models import start_from_parent
from ssl_engine.pictures import EPOCH_RECONSTRUCTIONS
from ssl_engine.train_config import TrainConfig
from ssl_engine.trainer import NonFiniteLossError, TrainResult, train
from worker.db_retry import retry_final_write
from worker.epoch_pictures import epoch_pictures
from worker.heartbeat import StopReason, job_heartbeat
from worker.job_data import JobImages, JobInputError, dataset_images, describe_skipped
from worker.job_hooks import DatabaseHooks
from worker.job_spec import JobSpec, job_spec
from worker.publish_model import publish_model

log = logging.getLogger(__name__)

# Failures that are the job's, not the worker's: the reason is shown as it is.
JOB_FAILURES = (NonFiniteLossError, JobInputError, CheckpointWriteError)


def run_job(settings: Settings, message_job_id: str) -> str | None:
    """Claim the job that is fairest to run next and train it; the message (for
    ``message_job_id``) only woke this worker: ``jobs.claim_next`` decides, so tenants
    take turns whatever order their messages arrived in. Every job has its own message,
    so each message claims one job. Returns the final status, or None if nothing was
    claimable (a duplicate delivery, or the job already finished).

    A worker without a GPU never claims a job that needs one; when such a job is all that
    waits, it passes the wake-up on to the GPU workers' queue (the message it consumed may
    have been the only one left)."""
    url = settings.resolved_database_url
    owner = lease_owner()
    lease = timedelta(seconds=settings.lease_seconds)
    has_gpu = resolve_device(settings.device).type == "cuda"
    with session_scope(url, tenant=None) as session:
        job = jobs.claim_next(session, owner, lease, has_gpu)
        if job is None:
            log.info("message for job %s: no job left to claim; skipping", message_job_id)
            if not has_gpu:
                _wake_gpu_worker(jobs.fair_next(session, utcnow(), has_gpu=True))
            return None
        job_id, needs_gpu = job.id, job.needs_gpu
        try:
            spec = job_spec(session, job)
        except JobInputError as error:  # claimed and failed in the same transaction
            failure = str(error)
            jobs.transition(
                session, job_id, JobStatus.FAILED, failure, owner=owner, failure_reason=failure
            )
            return JobStatus.FAILED

    with job_heartbeat(url, job_id, owner, lease) as heartbeat:
        hooks = DatabaseHooks(url, job_id, owner, heartbeat)
        try:
            result, embed_dim = _train(settings, spec, hooks)
        except JOB_FAILURES as error:
            return _finish(url, job_id, owner, JobStatus.FAILED, _failure_reason(error))
        except Exception as error:
            log.exception("job %s crashed", job_id)
            return _finish(url, job_id, owner, JobStatus.FAILED, f"{type(error).__name__}: {error}")

    if result.completed:
        if publish_model(settings, spec, owner, result, embed_dim, hooks.latest_metrics):
            if not spec.training.get("keep_checkpoints", False):  # the weights are published
                shutil.rmtree(
                    checkpoints_dir(settings, spec.tenant_id, spec.id), ignore_errors=True
                )
            return JobStatus.SUCCEEDED
        return _current_status(url, job_id)
    reason = heartbeat.stop_reason
    if reason is StopReason.CANCELLED:
        cancelled = f"cancelled at step {result.steps}; checkpoint kept"
        return _finish(url, job_id, owner, JobStatus.CANCELLED, cancelled)
    if reason is StopReason.WALL_TIME:
        exceeded = (
            f"wall_time_exceeded: the job ran as long as it may (max_wall_seconds) and was "
            f"stopped at step {result.steps}; checkpoint kept"
        )
        return _finish(url, job_id, owner, JobStatus.FAILED, exceeded)
    if reason is StopReason.SHUTDOWN:
        stopped = f"worker shut down at step {result.steps}; will resume from its checkpoint"
        status = _finish(url, job_id, owner, JobStatus.INTERRUPTED, stopped)
        if status == JobStatus.INTERRUPTED:
            _requeue(job_id, job_queue(needs_gpu))
        return status
    log.warning("job %s: lease lost to another worker; stopped without writing", job_id)
    return None


def _failure_reason(error: Exception) -> str:
    if isinstance(error, CheckpointWriteError):
        return f"{error}; the previous checkpoint is kept"
    return str(error)


def _separate_evaluator(settings: Settings, spec: JobSpec) -> KnnEvaluator | None:
    """The online kNN of a separate labeled dataset: its held-out split is scored against
    the rest of it, which is the bank (the protocol of the job's own split)."""
    assert spec.eval_dataset_path is not None
    labeled = dataset_images(settings, Path(spec.eval_dataset_path), spec.recipe.input_size)
    if labeled.labels is None:
        raise JobInputError(f"evaluation dataset at {spec.eval_dataset_path} has no classes")
    _, evaluator = hold_out_for_knn(
        labeled.images, labeled.files, labeled.labels, len(labeled.classes)
    )
    return evaluator


def _train(settings: Settings, spec: JobSpec, hooks: DatabaseHooks) -> tuple[TrainResult, int]:
    """Prepare data and method, then train; returns the result and the embedding size."""
    if settings.torch_threads:
        torch.set_num_threads(settings.torch_threads)
    device = resolve_device(settings.device)
    data = dataset_images(settings, Path(spec.dataset_path), spec.recipe.input_size)
    images, labels, evaluator = data.images, None, None
    if spec.eval_dataset_path is not None:  # all the job's images train; kNN on the other
        evaluator = _separate_evaluator(settings, spec)
    elif data.labels is not None:  # hold images out for the online kNN; never train on them
        train_part, evaluator = hold_out_for_knn(
            data.images, data.files, data.labels, len(data.classes)
        )
        images, labels = train_part.images, train_part.labels
    hooks.on_event("data_ready", _data_ready_message(data, len(images), spec.recipe.input_size))
    loader = BatchLoader(images, labels, spec.batch_size, device, spec.seed)
    torch.manual_seed(spec.seed)  # initial weights follow the job's seed too
    method = build_method(spec.recipe)
    if spec.parent is not None:  # a resumed run's checkpoint then replaces these weights
        try:
            start_from_parent(method, spec.parent.recipe, Path(spec.parent.weights_path))
        except (OSError, RuntimeError, ValueError) as error:  # lost or damaged weights
            raise JobInputError(f"cannot start from model {spec.parent.id}: {error}") from error
        hooks.on_event("parent_model", f"started from model {spec.parent.id}")
    config = TrainConfig.with_options(
        spec.training,
        epochs=spec.epochs,
        batch_size=spec.batch_size,
        seed=spec.seed,
        log_every_steps=settings.progress_every_steps,
        checkpoints_kept=settings.keep_checkpoints,
    )
    checkpoint_dir = checkpoints_dir(settings, spec.tenant_id, spec.id)
    epoch_end = None
    if method.generates or method.reconstructs:  # a picture of each epoch for the job page
        first_images, _ = next(loader.ordered(EPOCH_RECONSTRUCTIONS))  # (8, 3, S, S)
        epoch_end = epoch_pictures(pictures_dir(settings, spec.tenant_id, spec.id), first_images)
    result = train(
        method,
        loader,
        config,
        checkpoint_dir,
        hooks,
        device=device,
        evaluator=evaluator,
        epoch_end=epoch_end,
    )
    return result, int(method.embed_dim)


def _data_ready_message(data: JobImages, training: int, image_size: int) -> str:
    message = (
        f"{training} training images at {image_size}px; "
        f"{len(data.files) - training} held out for evaluation; {len(data.skipped)} skipped"
    )
    if data.skipped:
        message += f" as unreadable: {describe_skipped(data.skipped)}"
    return message


def _finish(url: str, job_id: str, owner: str, status: JobStatus, reason: str) -> str:
    """Move the job we hold to ``status``; returns the status it has afterwards."""
    fields: dict[str, Any] = {}
    if status is JobStatus.FAILED:
        fields["failure_reason"] = reason
    if status is JobStatus.INTERRUPTED:
        fields.update(lease_owner=None, lease_expires_at=None)

    def write() -> str:
        with session_scope(url, tenant=None) as session:
            if jobs.transition(session, job_id, status, reason, owner=owner, **fields):
                return status
        return _current_status(url, job_id)

    return retry_final_write(write, what=f"marking job {job_id} {status}")


def _current_status(url: str, job_id: str) -> str:
    with session_scope(url, tenant=None) as session:
        job = jobs.get_job(session, job_id)
        return job.status if job else "missing"


def _wake_gpu_worker(waiting_job_id: str | None) -> None:
    """Send a job that only a GPU worker can claim to their queue (nothing if None)."""
    if waiting_job_id is not None:
        _requeue(waiting_job_id, GPU_QUEUE)


def _requeue(job_id: str, queue: str) -> None:
    from worker.celery_app import celery_app

    try:
        publish(celery_app, RUN_JOB_TASK, job_id, queue)
    except BrokerUnavailable:  # the reconciler sends waiting jobs again
        log.warning("could not re-queue job %s; the reconciler will", job_id)
