"""Deleting datasets: an upload's files go, a registered folder stays; 409 while work
still needs it; the work made from it keeps naming it."""

from __future__ import annotations

import gc
from pathlib import Path

from fastapi.testclient import TestClient

from api.core.artifacts import uploaded_dataset_dir
from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from ssl_engine.data.cache import build_uint8_cache
from ssl_engine.data.cache_budget import entries
from tests.image_folders import make_image_folder, zip_folder
from tests.ingest import register, upload

JOB = {"method": "simclr", "backbone": "tiny_cnn", "batch_size": 4, "epochs": 1}


def test_an_uploaded_dataset_is_deleted_with_its_files(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    dataset = upload(client, zip_folder(make_image_folder(tmp_path / "images")))
    assert dataset["state"] == "ready"
    files = uploaded_dataset_dir(settings, LOCAL_TENANT, dataset["id"])
    assert any(files.rglob("*.png"))
    images = sorted(str(p.relative_to(files)) for p in files.rglob("*.*"))
    build_uint8_cache(files, images, 16, settings.cache_dir)  # as a job on it would
    gc.collect()
    assert len(list(entries(settings.cache_dir))) == 1
    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
    assert not files.exists()
    assert list(entries(settings.cache_dir)) == []  # its decoded images went too
    assert client.get(f"/v1/datasets/{dataset['id']}").status_code == 404
    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 404
    assert client.get("/v1/datasets").json()["total"] == 0
    refused = client.post("/v1/jobs", json={**JOB, "dataset_id": dataset["id"]})
    assert refused.status_code == 422  # no such dataset for new work


def test_a_dataset_in_use_is_409_and_a_registered_folder_is_never_touched(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images")
    dataset = register(client, folder)
    job = client.post("/v1/jobs", json={**JOB, "dataset_id": dataset["id"]}).json()
    assert job["dataset_deleted"] is False and job["stored_bytes"] == 0
    in_use = client.delete(f"/v1/datasets/{dataset['id']}")
    assert in_use.status_code == 409 and in_use.json()["code"] == "dataset_in_use"
    assert in_use.json()["details"]["in_use_by"] == [f"job {job['id']}"]
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.transition(session, job["id"], JobStatus.CANCELLED, "test")

    assert client.delete(f"/v1/datasets/{dataset['id']}").status_code == 204
    assert len(list(folder.rglob("*.*"))) == 32  # the user's own folder, untouched
    shown = client.get(f"/v1/jobs/{job['id']}").json()
    assert shown["dataset_id"] == dataset["id"] and shown["dataset_deleted"] is True
