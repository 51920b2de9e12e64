"""Dataset upload: a zip or tar archive of images, streamed to disk, unpacked elsewhere.

The API process never opens the archive: it writes the body under the tenant's
``incoming/`` folder and queues the dataset's ingest (``worker.ingest``), which checks the
headers and extracts the images in a child process under CPU, memory and time limits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from celery import Celery
from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.core.artifacts import incoming_dir, uploaded_dataset_dir
from api.core.persistence import datasets
from api.core.persistence.db import session_scope
from api.core.persistence.tables import new_id, utcnow
from api.core.settings import Settings
from api.deps import CeleryDep, SettingsDep
from api.quotas import check_storage_quota
from api.routes.datasets.views import queue_ingest
from api.schemas.datasets import DatasetOut

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
# The body's content type is not read: the ingest worker tells the archive's kind from its
# bytes, so a generic application/octet-stream works as well.
ARCHIVE_MEDIA_TYPES = (
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/octet-stream",
)
ARCHIVE_BODY = {
    media: {"schema": {"type": "string", "format": "binary"}} for media in ARCHIVE_MEDIA_TYPES
}


async def receive_to_file(request: Request, target: Path) -> None:
    """Write the request body to ``target`` as it arrives.

    The body limit (413) is enforced by ``api.request_limits`` while it streams.
    """
    with target.open("wb") as out:
        async for chunk in request.stream():
            await run_in_threadpool(out.write, chunk)


@router.post(
    "/upload",
    response_model=DatasetOut,
    status_code=202,
    openapi_extra={"requestBody": {"content": ARCHIVE_BODY, "required": True}},
)
async def upload_dataset(
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=200, description="Dataset name.")],
    settings: SettingsDep,
    principal: PrincipalDep,
    celery: CeleryDep,
) -> DatasetOut:
    """Upload a zip or tar(.gz/.bz2/.xz) of images as a new dataset of the caller's tenant.

    The body is the archive itself, sent as ``application/zip``, ``application/x-tar``,
    ``application/gzip`` or ``application/octet-stream``. The answer is the dataset
    ``ingesting``; an ingest worker unpacks and scans it and makes it ``ready``, or
    ``failed`` with the reason. Only image files are kept (folders become class labels, as
    for registered folders). An archive with absolute or ``..`` paths, links or device
    files, past the size, member-count or compression-ratio limits, or with headers known
    to be costly to parse, is refused whole and leaves nothing behind.
    """
    await run_in_threadpool(_check_storage, settings, principal.tenant_id)
    dataset_id = new_id()
    archive = incoming_dir(settings, principal.tenant_id) / f"{dataset_id}.upload"
    try:
        await receive_to_file(request, archive)
        return await run_in_threadpool(
            _queue, settings, principal.tenant_id, dataset_id, name, archive, celery
        )
    except BaseException:
        archive.unlink(missing_ok=True)
        raise


def _check_storage(settings: Settings, tenant_id: str) -> None:
    with session_scope(settings.resolved_database_url, tenant=tenant_id) as session:
        check_storage_quota(session, settings, tenant_id)


def _queue(
    settings: Settings, tenant_id: str, dataset_id: str, name: str, archive: Path, celery: Celery
) -> DatasetOut:
    """The dataset row of the stored upload, committed and sent to the ingest workers."""
    with session_scope(settings.resolved_database_url, tenant=tenant_id) as session:
        dataset = datasets.create_dataset(
            session,
            id=dataset_id,
            name=name,
            path=str(uploaded_dataset_dir(settings, tenant_id, dataset_id)),
            source_archive=str(archive),
            queued_at=utcnow(),
        )
        return queue_ingest(session, celery, dataset)
