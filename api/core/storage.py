"""Bytes a tenant stores under the data directory: uploads, checkpoints, weights, exports,
embeddings (everything under its artifact folder). Registered folders and the shared
decoded-image cache count for no tenant."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from api.core.artifacts import embeddings_dir, job_dir, model_dir, tenant_dir
from api.core.persistence.tables import Job, TrainedModel
from api.core.settings import Settings


def tree_bytes(root: Path) -> int:
    """Bytes of the regular files under ``root`` (links not followed; 0 if absent)."""
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.is_file(follow_symlinks=False):
                    total += entry.stat(follow_symlinks=False).st_size
            except OSError:
                continue
    return total


def tenant_bytes(settings: Settings, tenant_id: str) -> int:
    return tree_bytes(tenant_dir(settings, tenant_id))


def job_bytes(settings: Settings, job: Job) -> int:
    """What deleting the job frees: its checkpoints (its model is counted on the model)."""
    return tree_bytes(job_dir(settings, job.tenant_id, job.id))


def model_bytes(settings: Settings, model: TrainedModel, embedding_ids: Iterable[str]) -> int:
    """What deleting the model frees: its folder (weights, card, exports) and its dataset
    embeddings (``embedding_ids``: vectors and search indexes)."""
    folders = [model_dir(settings, model.tenant_id, model.id)]
    folders += [embeddings_dir(settings, model.tenant_id, e) for e in embedding_ids]
    return sum(tree_bytes(folder) for folder in folders)
