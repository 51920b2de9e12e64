"""Where every stored artifact lives: the one module that builds artifact paths.

Layout under ``<data_dir>/artifacts``::

    tenants/<tenant>/
        jobs/<job id>/checkpoints/step-N/   a running job's checkpoints
        models/<model id>/                  published weights, model card, exports
        embeddings/<embedding id>/          a dataset's vectors and search index
        incoming/<id>.upload, <id>.d        an upload while it streams and unpacks
        datasets/<dataset id>/              an uploaded dataset, once scanned

Nothing here creates a folder except ``incoming_dir``, which the upload writes into at once.
"""

from __future__ import annotations

from pathlib import Path

from api.core.settings import Settings


def tenants_root(settings: Settings) -> Path:
    return settings.artifacts_dir / "tenants"


def tenant_dir(settings: Settings, tenant_id: str) -> Path:
    """Where a tenant's artifacts live: jobs, models, embeddings, uploaded datasets."""
    return tenants_root(settings) / tenant_id


def job_dir(settings: Settings, tenant_id: str, job_id: str) -> Path:
    return tenant_dir(settings, tenant_id) / "jobs" / job_id


def checkpoints_dir(settings: Settings, tenant_id: str, job_id: str) -> Path:
    return job_dir(settings, tenant_id, job_id) / "checkpoints"


def pictures_dir(settings: Settings, tenant_id: str, job_id: str) -> Path:
    """Where a job whose method makes images keeps one PNG per epoch."""
    return job_dir(settings, tenant_id, job_id) / "pictures"


def picture_path(folder: Path, epoch: int) -> Path:
    return folder / f"epoch-{epoch:05d}.png"


def picture_epochs(folder: Path) -> list[int]:
    """The epochs (0-based) that have a picture in ``folder``, in order."""
    if not folder.is_dir():
        return []
    found = (path.stem.removeprefix("epoch-") for path in folder.glob("epoch-*.png"))
    return sorted(int(epoch) for epoch in found if epoch.isdigit())


def model_dir(settings: Settings, tenant_id: str, model_id: str) -> Path:
    return tenant_dir(settings, tenant_id) / "models" / model_id


def embeddings_dir(settings: Settings, tenant_id: str, embedding_id: str) -> Path:
    return tenant_dir(settings, tenant_id) / "embeddings" / embedding_id


def uploaded_dataset_dir(settings: Settings, tenant_id: str, dataset_id: str) -> Path:
    return tenant_dir(settings, tenant_id) / "datasets" / dataset_id


def incoming_dir(settings: Settings, tenant_id: str) -> Path:
    """Where uploads of ``tenant_id`` stream and unpack; created on first use."""
    folder = tenant_dir(settings, tenant_id) / "incoming"
    folder.mkdir(parents=True, exist_ok=True)
    return folder
