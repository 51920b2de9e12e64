"""Getting disk space back: folders no row points at, and decoded images no dataset needs.

Deletions remove rows first and files after the commit, so a crash in between leaves
folders without a row; a model's files are written before its row, so a young folder
without a row may be one being published. ``sweep`` removes row-less folders older than
``GRACE_SECONDS``, an uploaded dataset's folder once its row is marked deleted, and the
decoded-image cache entries of folders that no live dataset of any tenant maps to (the
cache is shared: two tenants registering one folder share its entries).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.core.artifacts import tenants_root
from api.core.persistence.tables import Dataset, DatasetEmbedding, Job, TrainedModel
from api.core.settings import Settings
from ssl_engine.data.cache_budget import remove_entries_of

GRACE_SECONDS = 3600  # far longer than publishing a model takes
IDS_PER_QUERY = 500

# The folder kinds under a tenant (api.core.artifacts) and the rows they belong to.
OWNERS: dict[str, type[Job] | type[TrainedModel] | type[DatasetEmbedding] | type[Dataset]] = {
    "jobs": Job,
    "models": TrainedModel,
    "embeddings": DatasetEmbedding,
    "datasets": Dataset,
}


def orphaned_folders(settings: Settings, session: Session, grace: float) -> list[Path]:
    """Artifact folders older than ``grace`` seconds whose row is gone (or, for an uploaded
    dataset, marked deleted). ``session`` must see every tenant."""
    cutoff = time.time() - grace
    found = []
    for kind, table in OWNERS.items():
        candidates = tenants_root(settings).glob(f"*/{kind}/*")
        folders = {folder.name: folder for folder in candidates if _older(folder, cutoff)}
        live: set[str] = set()
        for chunk in _chunks(list(folders), IDS_PER_QUERY):
            query = select(table.id).where(table.id.in_(chunk))
            if table is Dataset:
                query = query.where(Dataset.deleted_at.is_(None))
            live.update(session.scalars(query))
        found += [folder for name, folder in folders.items() if name not in live]
    return found


def live_dataset_roots(session: Session) -> set[str]:
    """The resolved folders of every tenant's datasets that are not deleted."""
    paths = session.scalars(select(Dataset.path).where(Dataset.deleted_at.is_(None)))
    return {str(Path(path).resolve()) for path in paths}


def forget_cached_images(settings: Settings, session: Session, folder: str) -> list[Path]:
    """Remove the cache entries decoded from ``folder`` unless a live dataset of any tenant
    still maps to it (``session`` must see every tenant)."""
    root = str(Path(folder).resolve())
    if root in live_dataset_roots(session):
        return []
    return remove_entries_of(settings.cache_dir, lambda entry_root: entry_root == root)


def sweep(settings: Settings, session: Session, grace: float = GRACE_SECONDS) -> list[Path]:
    """Remove orphaned folders and unneeded cache entries; returns what was removed."""
    removed = orphaned_folders(settings, session, grace)
    for folder in removed:
        shutil.rmtree(folder, ignore_errors=True)
    live = live_dataset_roots(session)
    return removed + remove_entries_of(settings.cache_dir, lambda root: root not in live)


def _older(path: Path, cutoff: float) -> bool:
    try:
        return path.is_dir() and path.lstat().st_mtime < cutoff
    except OSError:
        return False


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
