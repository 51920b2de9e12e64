"""Datasets: register a server folder of images (scanned by an ingest worker), list, get,
delete."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.core.artifacts import uploaded_dataset_dir
from api.core.persistence import datasets
from api.core.persistence.db import session_scope
from api.core.persistence.tables import utcnow
from api.core.reclaim import forget_cached_images
from api.core.settings import Settings
from api.deps import CeleryDep, SessionDep, SettingsDep
from api.errors import ApiError, not_found
from api.routes.datasets.views import dataset_out, queue_ingest
from api.schemas.common import ERROR, MAX_SQL_INT, Page
from api.schemas.datasets import DatasetCreate, DatasetOut

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])


def invalid_path(requested: str, message: str) -> ApiError:
    return ApiError(422, "invalid_path", message, {"path": requested[:300]})


def allowed_folder(requested: str, settings: Settings) -> Path:
    """The folder ``requested`` names, if it lies under an allowed root; 403 otherwise.

    Symlinks and ``..`` are resolved before the check, so a link inside a root that points
    outside it is outside. The data directory (other tenants' uploads and artifacts) is
    never allowed, even under a root: neither a folder inside it nor one that contains it.
    Nothing is said about paths outside the roots: whether they exist is not revealed. A
    path the system cannot resolve (a NUL byte, a link loop, a name over 255 bytes) is a
    422 ``invalid_path``. The folder is not read here: its ingest worker scans it.
    """
    if "\0" in requested:
        raise invalid_path(requested, "path contains a NUL byte")
    path = Path(requested)
    if not path.is_absolute():
        raise invalid_path(requested, "path must be absolute")
    try:
        path = path.resolve(strict=False)
        is_dir = path.is_dir()
    except (OSError, RuntimeError, ValueError) as error:  # ELOOP, ENAMETOOLONG, ...
        reason = f"path cannot be resolved: {error.__class__.__name__}"
        raise invalid_path(requested, reason) from None
    roots = [root.resolve() for root in settings.dataset_roots]
    inside = any(path.is_relative_to(root) for root in roots)
    data_dir = settings.data_dir.resolve()
    if not inside or path.is_relative_to(data_dir) or data_dir.is_relative_to(path):
        raise ApiError(
            403,
            "path_not_allowed",
            f"{requested[:300]} is not under an allowed dataset root; the server allows "
            f"{[str(r) for r in roots] or 'none (set SSLPT_DATASET_ROOTS)'}; or upload an "
            "archive to POST /v1/datasets/upload",
            {"path": requested[:300]},
        )
    if not is_dir:
        raise invalid_path(requested, f"no folder at {requested[:300]}")
    return path


@router.post("", response_model=DatasetOut, status_code=202, responses={403: ERROR})
def register_dataset(
    body: DatasetCreate, session: SessionDep, settings: SettingsDep, celery: CeleryDep
) -> DatasetOut:
    """Register a server folder of images under an allowed root (class sub-folders =
    labels). The answer is the dataset ``ingesting``: an ingest worker scans the folder
    (image count, classes, sizes, unreadable files) and makes it ``ready``, or ``failed``
    with the reason (e.g. no readable image); follow it with GET /v1/datasets/{id}."""
    path = allowed_folder(body.path, settings)
    dataset = datasets.create_dataset(session, name=body.name, path=str(path), queued_at=utcnow())
    return queue_ingest(session, celery, dataset)


@router.get("", response_model=Page[DatasetOut])
def list_datasets(
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_SQL_INT)] = 0,
) -> Page[DatasetOut]:
    """Registered datasets, newest first."""
    rows, total = datasets.list_datasets(session, limit=limit, offset=offset)
    return Page(items=[dataset_out(d) for d in rows], total=total, limit=limit, offset=offset)


@router.get("/{dataset_id}", response_model=DatasetOut)
def get_dataset(dataset_id: str, session: SessionDep) -> DatasetOut:
    """One dataset: its state and, once ready, its scan statistics."""
    dataset = datasets.get_dataset(session, dataset_id)
    if dataset is None:
        raise not_found("dataset", dataset_id)
    return dataset_out(dataset)


@router.delete("/{dataset_id}", status_code=204, responses={409: ERROR})
def delete_dataset(dataset_id: str, session: SessionDep, settings: SettingsDep) -> Response:
    """Delete a dataset: an uploaded one's files go; a registered folder is never touched.

    409 ``dataset_in_use`` while its ingest, or a job, probe or dataset embedding using it,
    is unfinished. The work made from it keeps naming it (its ``dataset_id``, with
    ``dataset_deleted``); the dataset itself is a 404 from then on. Its decoded images leave
    the shared cache unless another dataset (of any tenant) is the same folder.
    """
    dataset = datasets.get_dataset(session, dataset_id)
    if dataset is None:
        raise not_found("dataset", dataset_id)
    busy = datasets.unfinished_uses(session, dataset_id)
    if busy:
        raise ApiError(
            409,
            "dataset_in_use",
            f"dataset {dataset_id} is used by unfinished work: {', '.join(busy[:5])}",
            {"in_use_by": busy},
        )
    uploaded = uploaded_dataset_dir(settings, dataset.tenant_id, dataset_id)
    datasets.mark_deleted(session, dataset)
    session.commit()  # the row first: a crash now leaves files no live row points at
    shutil.rmtree(uploaded, ignore_errors=True)  # absent for a registered folder
    with session_scope(settings.resolved_database_url, tenant=None) as every_tenant:
        forget_cached_images(settings, every_tenant, dataset.path)
    return Response(status_code=204)
