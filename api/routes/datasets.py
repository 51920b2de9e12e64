"""Datasets: folders of images on the server, scanned once when registered."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.core.persistence import datasets
from api.core.persistence.tables import Dataset
from api.core.settings import Settings
from api.deps import SessionDep, SettingsDep
from api.errors import ApiError, not_found
from api.schemas.common import ERROR, MAX_SQL_INT, Page
from api.schemas.datasets import DatasetCreate, DatasetOut

router = APIRouter(prefix="/v1/datasets", tags=["datasets"])
MAX_LISTED_UNREADABLE = 100


def dataset_out(dataset: Dataset) -> DatasetOut:
    return DatasetOut(
        id=dataset.id,
        name=dataset.name,
        path=dataset.path,
        image_count=dataset.image_count,
        labeled=bool(dataset.classes),
        classes=list(dataset.classes),
        class_counts=dict(dataset.class_counts),
        unreadable_count=len(dataset.unreadable),
        unreadable=list(dataset.unreadable[:MAX_LISTED_UNREADABLE]),
        size_stats=dict(dataset.size_stats),
        total_bytes=dataset.total_bytes,
        created_at=dataset.created_at,
    )


def scan_folder(path: Path) -> dict[str, Any]:
    """Scan ``path`` and return the dataset row's fields."""
    from ssl_engine.data.scan import scan_image_folder

    scan = scan_image_folder(path)
    class_counts: dict[str, int] = {}
    if scan.labels is not None:
        for label in scan.labels:
            name = scan.classes[label]
            class_counts[name] = class_counts.get(name, 0) + 1
    return {
        "image_count": len(scan.files),
        "classes": list(scan.classes),
        "class_counts": class_counts,
        "unreadable": [{"path": u.path, "reason": u.reason} for u in scan.unreadable],
        "size_stats": {
            "width": asdict(scan.width_stats),
            "height": asdict(scan.height_stats),
        },
        "total_bytes": scan.total_bytes,
    }


def allowed_folder(requested: str, settings: Settings) -> Path:
    """The folder ``requested`` names, if it lies under an allowed root; 403 otherwise.

    Symlinks and ``..`` are resolved before the check, so a link inside a root that points
    outside it is outside. The data directory (other tenants' uploads and artifacts) is
    never allowed, even under a root: neither a folder inside it nor one that contains it.
    Nothing is said about paths outside the roots: whether they exist is not revealed.
    """
    path = Path(requested)
    if not path.is_absolute():
        raise ApiError(422, "invalid_path", "path must be absolute", {"path": requested})
    path = path.resolve()
    roots = [root.resolve() for root in settings.dataset_roots]
    inside = any(path.is_relative_to(root) for root in roots)
    data_dir = settings.data_dir.resolve()
    if not inside or path.is_relative_to(data_dir) or data_dir.is_relative_to(path):
        raise ApiError(
            403,
            "path_not_allowed",
            f"{requested} is not under an allowed dataset root; the server allows "
            f"{[str(r) for r in roots] or 'none (set SSLPT_DATASET_ROOTS)'}; or upload an "
            "archive to POST /v1/datasets/upload",
            {"path": requested},
        )
    if not path.is_dir():
        raise ApiError(422, "invalid_path", f"no folder at {requested}", {"path": requested})
    return path


def scanned_fields(path: Path) -> dict[str, Any]:
    """``scan_folder``, with a folder of no readable image as a 422."""
    fields = scan_folder(path)
    if fields["image_count"] == 0:
        raise ApiError(
            422,
            "empty_dataset",
            "no readable image (JPEG/PNG/WebP/BMP) in the dataset",
            {"unreadable": fields["unreadable"][:MAX_LISTED_UNREADABLE]},
        )
    return fields


@router.post("", response_model=DatasetOut, status_code=201, responses={403: ERROR})
def register_dataset(body: DatasetCreate, session: SessionDep, settings: SettingsDep) -> DatasetOut:
    """Register a server folder of images under an allowed root (class sub-folders = labels)."""
    path = allowed_folder(body.path, settings)
    dataset = datasets.create_dataset(
        session, name=body.name, path=str(path), **scanned_fields(path)
    )
    return dataset_out(dataset)


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
    """One dataset with its scan statistics."""
    dataset = datasets.get_dataset(session, dataset_id)
    if dataset is None:
        raise not_found("dataset", dataset_id)
    return dataset_out(dataset)
