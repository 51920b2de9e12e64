"""Deleting a tenant's finished jobs and its models, rows first.

The rows go in one transaction; the caller removes the files only after it commits, so a
crash in between leaves files no row points at (space to reclaim), never a row that
points at missing files.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from api.core.persistence.tables import (
    FINISHED_STATUSES,
    DatasetEmbedding,
    Evaluation,
    Job,
    JobEvent,
    Metric,
    TrainedModel,
)


def delete_job(session: Session, job: Job) -> None:
    """The job with its metrics and events (the caller checked it is finished and has no
    model)."""
    session.execute(delete(Metric).where(Metric.job_id == job.id))
    session.execute(delete(JobEvent).where(JobEvent.job_id == job.id))
    session.delete(job)


def unfinished_uses(session: Session, model_id: str) -> list[str]:
    """Probes and dataset embeddings of the model, and jobs starting from it, that are
    still queued or running."""
    found = []
    for kind, table in (("evaluation", Evaluation), ("dataset_embedding", DatasetEmbedding)):
        query = select(table.id).where(
            table.model_id == model_id, table.status.not_in(FINISHED_STATUSES)
        )
        found += [f"{kind} {row_id}" for row_id in session.scalars(query)]
    children = select(Job.id).where(
        Job.parent_model_id == model_id, Job.status.not_in(FINISHED_STATUSES)
    )
    found += [f"job {row_id}" for row_id in session.scalars(children)]
    return found


def delete_model(session: Session, model: TrainedModel) -> list[str]:
    """The model, its evaluations and dataset embeddings (the caller checked none is
    unfinished); its job forgets it, and so do the jobs and models started from it.
    Returns the ids of the dataset embeddings removed, whose files the caller deletes
    with the model's folder."""
    embeddings = list(
        session.scalars(select(DatasetEmbedding.id).where(DatasetEmbedding.model_id == model.id))
    )
    session.execute(delete(Evaluation).where(Evaluation.model_id == model.id))
    session.execute(delete(DatasetEmbedding).where(DatasetEmbedding.model_id == model.id))
    session.execute(update(Job).where(Job.model_id == model.id).values(model_id=None))
    # Children keep their weights and their lineage; only the link to the row goes.
    for table in (Job, TrainedModel):
        session.execute(
            update(table).where(table.parent_model_id == model.id).values(parent_model_id=None)
        )
    session.delete(model)
    return embeddings
