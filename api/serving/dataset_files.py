"""Images of a registered dataset, named by their relative paths and confined to its folder."""

from __future__ import annotations

from pathlib import Path

from fastapi.concurrency import run_in_threadpool

from api.core.persistence import datasets
from api.core.persistence.db import session_scope
from api.errors import ApiError, not_found
from api.serving.inputs import EmbedInputs
from ssl_engine.data.formats import is_image_name


def read_dataset_files(root: Path, paths: list[str], byte_limit: int) -> list[tuple[str, bytes]]:
    """(path, bytes) of each file; 422 for a path outside the folder or not an image,
    404 for a missing file, 413 when the files together exceed ``byte_limit``."""
    root = root.resolve()
    files, total = [], 0
    for path in paths:
        target = (root / path).resolve()  # symlinks followed, so a link cannot lead out
        if not target.is_relative_to(root) or not is_image_name(path):
            raise ApiError(
                422, "invalid_item", f"{path!r} is not an image inside the dataset", {"path": path}
            )
        try:
            total += target.stat().st_size
            if total > byte_limit:
                raise ApiError(413, "payload_too_large", f"dataset items over {byte_limit} bytes")
            files.append((path, target.read_bytes()))
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as error:
            raise ApiError(
                404, "item_not_found", f"no file {path!r} in the dataset", {"path": path}
            ) from error
    return files


def read_registered_items(
    database_url: str, tenant_id: str, dataset_id: str, paths: list[str], byte_limit: int
) -> list[tuple[str, bytes]]:
    """``read_dataset_files`` in the folder of ``tenant_id``'s dataset ``dataset_id``."""
    with session_scope(database_url, tenant=tenant_id) as session:
        dataset = datasets.get_dataset(session, dataset_id)
        if dataset is None:
            raise not_found("dataset", dataset_id)
        root = Path(dataset.path)
    return read_dataset_files(root, paths, byte_limit)


async def all_files(
    inputs: EmbedInputs, database_url: str, tenant_id: str, byte_limit: int
) -> list[tuple[str, bytes]]:
    """The request's uploaded images, then its dataset items; all within ``byte_limit``."""
    items = inputs.dataset_items
    if items is None:
        return inputs.files
    room = byte_limit - sum(len(data) for _, data in inputs.files)
    found = await run_in_threadpool(
        read_registered_items, database_url, tenant_id, items.dataset_id, items.paths, room
    )
    return inputs.files + found
