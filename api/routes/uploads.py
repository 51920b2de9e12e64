"""Dataset upload: a zip or tar archive of images, streamed to disk and extracted safely."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool

from api.auth import PrincipalDep
from api.core.archive import ArchiveLimits, UnsafeArchiveError, archive_kind, extract_images
from api.core.artifacts import incoming_dir, uploaded_dataset_dir
from api.core.persistence import datasets
from api.core.persistence.db import session_scope
from api.core.persistence.tables import new_id
from api.core.settings import Settings
from api.deps import SettingsDep
from api.errors import ApiError
from api.routes.datasets import dataset_out, scanned_fields
from api.schemas.common import ERROR
from api.schemas.datasets import DatasetOut

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
# The body's content type is not read: the archive kind is sniffed from its bytes
# (api.core.archive.archive_kind), so a generic application/octet-stream works as well.
ARCHIVE_MEDIA_TYPES = (
    "application/zip",
    "application/x-tar",
    "application/gzip",
    "application/octet-stream",
)
ARCHIVE_BODY = {
    media: {"schema": {"type": "string", "format": "binary"}} for media in ARCHIVE_MEDIA_TYPES
}


def archive_limits(settings: Settings) -> ArchiveLimits:
    return ArchiveLimits(
        max_members=settings.max_archive_members,
        max_member_bytes=settings.max_archive_member_bytes,
        max_total_bytes=settings.max_archive_total_bytes,
        max_ratio=settings.max_archive_ratio,
    )


async def receive_to_file(request: Request, target: Path) -> None:
    """Write the request body to ``target`` as it arrives.

    The body limit (413) is enforced by ``api.request_limits`` while it streams.
    """
    with target.open("wb") as out:
        async for chunk in request.stream():
            await run_in_threadpool(out.write, chunk)


def unpack(archive: Path, dest: Path, settings: Settings) -> dict[str, Any]:
    """Extract the images of ``archive`` into ``dest`` and scan them: the row's fields."""
    if archive_kind(archive) is None:
        raise ApiError(415, "unsupported_archive", "the body is not a zip or tar archive")
    try:
        extract_images(archive, dest, archive_limits(settings))
    except UnsafeArchiveError as error:
        raise ApiError(
            400, error.code, f"archive refused: {error}", {"member": error.member}
        ) from error
    try:
        return scanned_fields(dest)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise


@router.post(
    "/upload",
    response_model=DatasetOut,
    status_code=201,
    responses={400: ERROR, 415: ERROR},
    openapi_extra={"requestBody": {"content": ARCHIVE_BODY, "required": True}},
)
async def upload_dataset(
    request: Request,
    name: Annotated[str, Query(min_length=1, max_length=200, description="Dataset name.")],
    settings: SettingsDep,
    principal: PrincipalDep,
) -> DatasetOut:
    """Upload a zip or tar(.gz/.bz2/.xz) of images as a new dataset of the caller's tenant.

    The body is the archive itself, sent as ``application/zip``, ``application/x-tar``,
    ``application/gzip`` or ``application/octet-stream``: the kind is read from its bytes.

    Only image files are kept (folders become class labels, as for registered folders).
    An archive with absolute or ``..`` paths, links or device files, or past the size,
    member-count or compression-ratio limits is refused whole and leaves nothing behind.
    """
    incoming = incoming_dir(settings, principal.tenant_id)
    dataset_id = new_id()
    archive, unpacked = incoming / f"{dataset_id}.upload", incoming / f"{dataset_id}.d"
    dest = uploaded_dataset_dir(settings, principal.tenant_id, dataset_id)
    try:
        await receive_to_file(request, archive)
        fields = await run_in_threadpool(unpack, archive, unpacked, settings)
    finally:
        archive.unlink(missing_ok=True)
    dest.parent.mkdir(parents=True, exist_ok=True)
    unpacked.rename(dest)  # complete and scanned: only now under datasets/
    try:
        with session_scope(settings.resolved_database_url, tenant=principal.tenant_id) as session:
            dataset = datasets.create_dataset(
                session, id=dataset_id, name=name, path=str(dest), **fields
            )
            return dataset_out(dataset)
    except BaseException:
        shutil.rmtree(dest, ignore_errors=True)
        raise
