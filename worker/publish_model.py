"""Turn a finished job's final checkpoint into a served model, all or nothing.

The weights are copied under ``artifacts/tenants/<tenant>/models/<model id>/`` first; then
one transaction inserts the model row and moves the job to ``succeeded``, provided this
worker still holds its lease. If that transaction fails or the job was taken over, the copied files
are removed, so a model row always has its weights and no weights lie about unowned.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

from sqlalchemy.exc import IntegrityError

from api.core.artifacts import model_dir
from api.core.persistence import jobs, trained_models
from api.core.persistence.db import session_scope
from api.core.persistence.recipes import recipe_columns
from api.core.persistence.tables import JobStatus, new_id
from api.core.settings import Settings
from ssl_engine.checkpoint import MODEL_FILE
from ssl_engine.trainer import TrainResult
from worker.db_retry import retry_final_write
from worker.job_spec import JobSpec


def publish_model(
    settings: Settings,
    spec: JobSpec,
    owner: str,
    result: TrainResult,
    embed_dim: int,
    final_metrics: dict[str, float],
) -> bool:
    """Publish the model and mark the job succeeded; False if the job is no longer ours."""
    return retry_final_write(
        lambda: _publish_once(settings, spec, owner, result, embed_dim, final_metrics),
        what=f"publishing the model of job {spec.id}",
    )


def _publish_once(
    settings: Settings,
    spec: JobSpec,
    owner: str,
    result: TrainResult,
    embed_dim: int,
    final_metrics: dict[str, float],
) -> bool:
    model_id = new_id()
    weights = _write_weights(model_dir(settings, spec.tenant_id, model_id), spec, result.checkpoint)
    published = False
    try:
        with session_scope(settings.resolved_database_url, tenant=None) as session:
            trained_models.create_model(
                session,
                id=model_id,
                tenant_id=spec.tenant_id,
                job_id=spec.id,
                dataset_id=spec.dataset_id,
                **recipe_columns(spec.recipe),
                embed_dim=embed_dim,
                weights_path=str(weights),
                metrics=final_metrics,
                lineage=trained_models.lineage_of(session, spec.recipe.parent_model_id),
            )
            published = jobs.transition(
                session,
                spec.id,
                JobStatus.SUCCEEDED,
                f"trained {result.steps} steps",
                allowed_from={JobStatus.RUNNING, JobStatus.CANCELLING},
                owner=owner,
                model_id=model_id,
                step=result.steps,
            )
            if not published:
                session.rollback()
    except IntegrityError:  # another worker already published this job's model
        return False
    finally:
        if not published:
            shutil.rmtree(weights.parent, ignore_errors=True)
    return published


def _write_weights(target_dir: Path, spec: JobSpec, checkpoint: Path) -> Path:
    """Copy the final weights (atomically) and a small model card into ``target_dir``."""
    target_dir.mkdir(parents=True, exist_ok=True)
    source = checkpoint / MODEL_FILE if checkpoint.is_dir() else checkpoint
    target = target_dir / MODEL_FILE
    tmp = target.with_suffix(".tmp")
    shutil.copyfile(source, tmp)
    os.replace(tmp, target)
    card = {**spec.recipe.to_card(), "job_id": spec.id, "dataset_id": spec.dataset_id}
    (target_dir / "config.json").write_text(json.dumps(card, indent=2))
    return target
