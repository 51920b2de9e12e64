"""The reconciler gets disk space back: folders no row points at (older than a grace
period), an uploaded dataset's folder once its row is deleted, and decoded images that no
live dataset of any tenant needs."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

from api.core.artifacts import embeddings_dir, job_dir, model_dir, uploaded_dataset_dir
from api.core.persistence import api_keys, datasets, jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT
from api.core.reclaim import GRACE_SECONDS, sweep
from api.core.settings import Settings
from api.reconciler import reconcile_once
from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.cache_budget import entries
from tests.image_folders import make_image_folder
from tests.worker.test_model_task_leases import SentMessages


def folder_with_file(folder: Path, age_seconds: float) -> Path:
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "f").write_bytes(b"x")
    when = time.time() - age_seconds
    os.utime(folder, (when, when))
    return folder


def test_folders_without_rows_go_after_the_grace_period(settings: Settings) -> None:
    url, old = settings.resolved_database_url, GRACE_SECONDS + 60
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        live = datasets.create_dataset(session, name="d", path="/x", image_count=4)
        deleted = datasets.create_dataset(session, name="gone", path="/y", image_count=4)
        datasets.mark_deleted(session, deleted)
        job = jobs.create_job(
            session, method="simclr", dataset_id=live.id, backbone="tiny_cnn",
            image_size=16, epochs=1, batch_size=2, seed=0,
        )  # fmt: skip
        live_id, deleted_id, job_id = live.id, deleted.id, job.id
    kept = [
        folder_with_file(job_dir(settings, LOCAL_TENANT, job_id), old),
        folder_with_file(uploaded_dataset_dir(settings, LOCAL_TENANT, live_id), old),
        folder_with_file(model_dir(settings, LOCAL_TENANT, "being-published"), 5),
    ]
    orphans = [
        folder_with_file(job_dir(settings, LOCAL_TENANT, "deleted-job"), old),
        folder_with_file(model_dir(settings, LOCAL_TENANT, "deleted-model"), old),
        folder_with_file(embeddings_dir(settings, LOCAL_TENANT, "deleted-embedding"), old),
        folder_with_file(uploaded_dataset_dir(settings, LOCAL_TENANT, deleted_id), old),
    ]
    with session_scope(url, tenant=None) as session:
        removed = sweep(settings, session)
    assert sorted(removed) == sorted(orphans)
    assert not any(folder.exists() for folder in orphans)
    assert all((folder / "sub" / "f").exists() for folder in kept)


def test_cached_images_go_once_no_dataset_of_any_tenant_is_their_folder(
    settings: Settings, tmp_path: Path
) -> None:
    url = settings.resolved_database_url
    shared, alone = make_image_folder(tmp_path / "shared"), make_image_folder(tmp_path / "alone")
    with session_scope(url, tenant=None) as session:
        api_keys.ensure_tenant(session, "other")
    with session_scope(url, tenant=LOCAL_TENANT) as session:
        mine = datasets.create_dataset(session, name="s", path=str(shared), image_count=32)
        gone = datasets.create_dataset(session, name="a", path=str(alone), image_count=32)
        datasets.mark_deleted(session, mine)  # another tenant still has the shared folder
        datasets.mark_deleted(session, gone)
    with session_scope(url, tenant="other") as session:
        theirs = datasets.create_dataset(session, name="s", path=str(shared), image_count=32)
        theirs_id = theirs.id
    for folder in (shared, alone):
        files = sorted(str(p.relative_to(folder)) for p in folder.rglob("*.*"))
        build_uint8_cache(folder, files, 16, settings.cache_dir)
    gc.collect()  # nothing holds the entries any more

    assert reconcile_once(settings, SentMessages(), reclaim_disk=True) == []  # type: ignore[arg-type]
    roots = {entry.root() for entry in entries(settings.cache_dir)}
    assert roots == {str(shared.resolve())}
    with session_scope(url, tenant="other") as session:
        theirs_row = datasets.get_dataset(session, theirs_id)
        assert theirs_row is not None
        datasets.mark_deleted(session, theirs_row)
    reconcile_once(settings, SentMessages(), reclaim_disk=True)  # type: ignore[arg-type]
    assert list(entries(settings.cache_dir)) == []
