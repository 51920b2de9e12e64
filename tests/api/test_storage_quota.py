"""Storage accounting and the per-tenant storage quota: /v1/me shows what a tenant stores,
and past its limit new uploads and jobs are a 429 until it deletes something."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from api.core.artifacts import tenant_dir
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from tests.image_folders import make_image_folder, zip_folder
from tests.ingest import register
from tests.keys import bearer, create_key

JOB = {"method": "simclr", "backbone": "tiny_cnn", "batch_size": 4, "epochs": 1}


def test_past_its_storage_limit_a_tenant_cannot_upload_or_submit(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images")
    dataset = register(client, folder)  # a registered folder counts for no tenant
    me = client.get("/v1/me").json()
    assert me["stored_bytes"] == 0 and me["max_storage_bytes"] is None
    weights = tenant_dir(settings, LOCAL_TENANT) / "models" / "m" / "model.safetensors"
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"w" * 5000)
    assert client.get("/v1/me").json()["stored_bytes"] == 5000

    operator = bearer(create_key(settings, "ops", admin=True, operator=True))
    limited = client.put(
        f"/v1/tenants/{LOCAL_TENANT}", json={"max_storage_bytes": 4096}, headers=operator
    )
    assert limited.status_code == 200 and limited.json()["max_storage_bytes"] == 4096
    assert client.get("/v1/me").json()["max_storage_bytes"] == 4096
    job = client.post("/v1/jobs", json={**JOB, "dataset_id": dataset["id"]})
    assert job.status_code == 429 and job.json()["code"] == "storage_quota_exceeded"
    assert job.json()["details"] == {"stored_bytes": 5000, "limit": 4096}
    upload = client.post("/v1/datasets/upload", params={"name": "u"}, content=zip_folder(folder))
    assert upload.status_code == 429 and upload.json()["code"] == "storage_quota_exceeded"
    assert not any((tenant_dir(settings, LOCAL_TENANT) / "incoming").glob("*"))

    weights.unlink()  # what a DELETE of the model does
    assert client.post("/v1/jobs", json={**JOB, "dataset_id": dataset["id"]}).status_code == 201


def test_the_server_default_applies_without_a_tenant_limit(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    stored = tenant_dir(settings, LOCAL_TENANT) / "jobs" / "j" / "checkpoint"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"c" * 100)
    with serve(max_storage_bytes_per_tenant=50) as client:
        me = client.get("/v1/me").json()
        assert me["max_storage_bytes"] == 50 and me["stored_bytes"] == 100
        folder = zip_folder(make_image_folder(tmp_path / "images"))
        upload = client.post("/v1/datasets/upload", params={"name": "u"}, content=folder)
        assert upload.status_code == 429
