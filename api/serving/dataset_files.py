"""Images of a registered dataset, named by their relative paths and confined to its folder."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from fastapi.concurrency import run_in_threadpool

from api.core.persistence import datasets
from api.core.persistence.db import session_scope
from api.errors import ApiError, not_found
from api.serving.inputs import EmbedInputs
from ssl_engine.data.formats import is_image_name


def invalid_item(path: str, why: str) -> ApiError:
    shown = path[:200]
    return ApiError(422, "invalid_item", f"{shown!r} {why}", {"path": shown})


def item_not_found(path: str) -> ApiError:
    shown = path[:200]
    return ApiError(404, "item_not_found", f"no file {shown!r} in the dataset", {"path": shown})


def read_regular_file(target: Path, path: str, byte_limit: int) -> bytes:
    """The bytes of ``target`` if it is a regular file of at most ``byte_limit`` bytes.

    Opened without blocking and checked on the open descriptor: a FIFO, socket or device
    placed in the folder is refused instead of hanging the reading thread, and a file
    swapped for one after a check is still caught. 413 past ``byte_limit``.
    """
    try:
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    except (FileNotFoundError, NotADirectoryError) as error:
        raise item_not_found(path) from error
    except OSError as error:  # EISDIR, ELOOP, ENAMETOOLONG, EACCES, ENXIO (socket), ...
        raise invalid_item(path, f"cannot be read: {error.strerror}") from error
    with os.fdopen(fd, "rb") as file:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise invalid_item(path, "is not a regular file")
        data = file.read(byte_limit + 1)
    if len(data) > byte_limit:
        raise ApiError(413, "payload_too_large", f"dataset items over {byte_limit} bytes")
    return data


def read_dataset_files(root: Path, paths: list[str], byte_limit: int) -> list[tuple[str, bytes]]:
    """(path, bytes) of each file; 422 for a path outside the folder, not an image or not a
    regular file, 404 for a missing file, 413 when the files together exceed
    ``byte_limit``."""
    root = root.resolve()
    files, total = [], 0
    for path in paths:
        if "\0" in path:
            raise invalid_item(path, "contains a NUL byte")
        try:
            target = (root / path).resolve()  # symlinks followed, so a link cannot lead out
        except (OSError, RuntimeError) as error:  # a link loop, a name too long
            raise invalid_item(path, "cannot be resolved") from error
        if not target.is_relative_to(root) or not is_image_name(path):
            raise invalid_item(path, "is not an image inside the dataset")
        data = read_regular_file(target, path, byte_limit - total)
        total += len(data)
        files.append((path, data))
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
