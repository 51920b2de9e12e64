"""Thin Celery tasks: each one hands a row id to the code that does the work."""

from __future__ import annotations

from api.core.queue import EMBED_DATASET_TASK, EVALUATE_TASK, INGEST_TASK, RUN_JOB_TASK
from api.core.settings import get_settings
from worker.celery_app import celery_app
from worker.embed_dataset import embed_dataset
from worker.evaluate import run_evaluation
from worker.ingest import ingest_dataset
from worker.run_job import run_job


@celery_app.task(name=RUN_JOB_TASK)
def run_job_task(job_id: str) -> str | None:
    """Claim and train one job; a duplicate delivery returns None and does nothing."""
    return run_job(get_settings(), job_id)


@celery_app.task(name=EVALUATE_TASK)
def evaluate_task(evaluation_id: str) -> str | None:
    """Claim and run one linear-probe evaluation; a duplicate delivery does nothing."""
    return run_evaluation(get_settings(), evaluation_id)


@celery_app.task(name=EMBED_DATASET_TASK)
def embed_dataset_task(embedding_id: str) -> str | None:
    """Claim, embed and index one dataset for search; a duplicate delivery does nothing."""
    return embed_dataset(get_settings(), embedding_id)


@celery_app.task(name=INGEST_TASK)
def ingest_dataset_task(dataset_id: str) -> str | None:
    """Claim and ingest (unpack and scan) one dataset; a duplicate delivery does nothing."""
    return ingest_dataset(get_settings(), dataset_id)
