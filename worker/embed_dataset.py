"""Embed a whole dataset with a model and index the vectors for similarity search.

The message carries only the dataset-embedding id. The worker claims the row with a lease
(``worker.model_task``), decodes the dataset at the model's resolution (the
uint8 cache training uses, so an image is preprocessed exactly as at serving time),
embeds it in eval mode, L2-normalises the vectors and writes them with their index under
``artifacts/tenants/<tenant>/embeddings/<id>/``: first into a temporary folder, renamed
into place, so a row marked succeeded always points at a complete folder.
"""

from __future__ import annotations

import shutil
import time
from typing import Any

import torch.nn.functional as F
from sqlalchemy.orm import Session

from api.core.artifacts import embeddings_dir
from api.core.persistence import model_tasks
from api.core.persistence.tables import DatasetEmbedding, JobStatus
from api.core.settings import Settings
from api.core.vector_index import Item, write_index_folder
from ssl_engine.acceleration import serving_precision
from ssl_engine.evaluation.features import embed_uint8
from ssl_engine.inference import cast_for_autocast
from worker.model_on_dataset import ModelOnDataset, load_model_and_images
from worker.model_task import run_model_task


def embed_dataset(settings: Settings, embedding_id: str) -> str | None:
    """Claim and run ``embedding_id``; the final status, or None if there was nothing to do."""

    def record(session: Session, row_id: str, owner: str, fields: dict[str, Any]) -> bool:
        return model_tasks.finish(
            session, DatasetEmbedding, row_id, owner, JobStatus.SUCCEEDED, **fields
        )

    return run_model_task(
        settings,
        DatasetEmbedding,
        embedding_id,
        lambda spec: _embed_and_index(settings, spec),
        record,
    )


def _embed_and_index(settings: Settings, spec: ModelOnDataset) -> dict[str, Any]:
    """Embed every readable image, write the index folder; the row's new fields."""
    started = time.perf_counter()
    model, data, device = load_model_and_images(settings, spec)
    precision = serving_precision(settings.serving_precision, device)  # as queries are served
    fast = cast_for_autocast(model, precision)
    # batches of the size serving uses: at 224 px on the 2-core CPU of bench/RESULTS.md,
    # batches of 256 images ran 12-15 % slower per image than batches of 32
    vectors = embed_uint8(fast, data.images, device, settings.embed_max_batch, precision)
    vectors = F.normalize(vectors, dim=1).cpu()  # (N, D)
    labels: list[int | None] = [None] * len(data.files) if data.labels is None else [*data.labels]
    items = [
        Item(path=path, label=None if label is None else data.classes[label])
        for path, label in zip(data.files, labels, strict=True)
    ]
    target = embeddings_dir(settings, spec.tenant_id, spec.id)
    partial = target.with_name(target.name + ".partial")
    shutil.rmtree(partial, ignore_errors=True)
    kind = write_index_folder(partial, vectors.numpy(), items, settings.search_exact_max_items)
    shutil.rmtree(target, ignore_errors=True)
    partial.rename(target)
    seconds = time.perf_counter() - started
    return {
        "item_count": len(items),
        "dim": int(vectors.shape[1]),
        "index_kind": kind,
        "path": str(target),
        "stats": {
            "seconds": round(seconds, 3),
            "images_per_sec": round(len(items) / seconds, 1) if seconds > 0 else None,
            "skipped": len(data.skipped),
            "precision": precision,
        },
    }
