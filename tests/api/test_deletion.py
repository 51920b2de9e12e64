"""Deleting finished jobs and models: 204, then 404; their files go; the 409 cases; a
deleted model stops being served, in this API process at once and in others soon after."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from api.core.artifacts import checkpoints_dir, embeddings_dir, model_dir
from api.core.persistence import dataset_embeddings, evaluations, jobs, trained_models
from api.core.persistence.db import session_scope
from api.core.persistence.metrics import record_metrics
from api.core.persistence.tables import LOCAL_TENANT, JobEvent, JobStatus, Metric
from api.core.settings import Settings
from api.main import create_app
from api.serving import model_cache
from tests.image_folders import image_bytes
from tests.keys import bearer, create_key
from tests.serving.random_models import register_random_model


def finished_model(settings: Settings, tmp_path: Path) -> tuple[str, str]:
    """(model id, job id): a random model whose job succeeded and published it."""
    model_id = register_random_model(settings.resolved_database_url, tmp_path / "weights")
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        model = trained_models.get_model(session, model_id)
        assert model is not None
        job = jobs.get_job(session, model.job_id)
        assert job is not None
        job.status, job.model_id = JobStatus.SUCCEEDED, model_id
        record_metrics(session, job.id, step=1, epoch=0, values={"loss": 1.0})
        return model_id, job.id


def embed(client: TestClient, model_id: str) -> int:
    image = base64.b64encode(image_bytes()).decode()
    return client.post(f"/v1/models/{model_id}/embed", json={"images": [image]}).status_code


def test_a_model_then_its_job_are_deleted_with_their_files(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    model_id, job_id = finished_model(settings, tmp_path)
    exported = model_dir(settings, LOCAL_TENANT, model_id) / "exports" / "onnx.zip"
    exported.parent.mkdir(parents=True)
    exported.write_bytes(b"zip")
    checkpoint = checkpoints_dir(settings, LOCAL_TENANT, job_id) / "step-00000001" / "m"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"weights")
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        model = trained_models.get_model(session, model_id)
        assert model is not None
        probe = evaluations.create_evaluation(
            session, model_id=model_id, dataset_id=model.dataset_id
        )
        embedding = dataset_embeddings.create_embedding(
            session, model_id=model_id, dataset_id=model.dataset_id
        )
        probe_id, embedding_id = probe.id, embedding.id
    index = embeddings_dir(settings, LOCAL_TENANT, embedding_id) / "index.faiss"
    index.parent.mkdir(parents=True)
    index.write_bytes(b"index")
    shown = client.get(f"/v1/models/{model_id}").json()
    assert shown["stored_bytes"] == len(b"zip") + len(b"index")  # export and search index
    assert client.get("/v1/models").json()["items"][0]["stored_bytes"] == shown["stored_bytes"]
    assert client.get(f"/v1/jobs/{job_id}").json()["stored_bytes"] == len(b"weights")
    assert embed(client, model_id) == 200  # loaded in this process's cache

    assert client.delete(f"/v1/jobs/{job_id}").json()["code"] == "job_has_model"
    in_use = client.delete(f"/v1/models/{model_id}")
    assert in_use.status_code == 409 and in_use.json()["code"] == "model_in_use"
    assert len(in_use.json()["details"]["in_use_by"]) == 2
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        for row in (evaluations.get_evaluation(session, probe_id),
                    dataset_embeddings.get_embedding(session, embedding_id)):  # fmt: skip
            assert row is not None
            row.status = JobStatus.SUCCEEDED

    assert client.delete(f"/v1/models/{model_id}").status_code == 204
    assert client.get(f"/v1/models/{model_id}").status_code == 404
    assert client.delete(f"/v1/models/{model_id}").status_code == 404
    assert embed(client, model_id) == 404
    assert model_id not in client.app.state.model_cache.loaded_ids()  # type: ignore[attr-defined]
    assert not exported.exists() and not index.exists()
    assert client.get(f"/v1/models/{model_id}/evaluations/{probe_id}").status_code == 404

    assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert client.get(f"/v1/jobs/{job_id}").status_code == 404
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 404
    assert not checkpoint.exists()
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        for table in (Metric, JobEvent):
            count = select(func.count()).select_from(table).where(table.job_id == job_id)
            assert session.scalar(count) == 0


def test_an_unfinished_job_cannot_be_deleted(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    model_id = register_random_model(settings.resolved_database_url, tmp_path / "weights")
    job_id = client.get(f"/v1/models/{model_id}").json()["job_id"]  # queued
    refused = client.delete(f"/v1/jobs/{job_id}")
    assert refused.status_code == 409 and refused.json()["code"] == "job_active"
    assert client.get(f"/v1/jobs/{job_id}").status_code == 200


def test_another_tenants_objects_are_404(settings: Settings, tmp_path: Path) -> None:
    model_id, job_id = finished_model(settings, tmp_path)
    other = create_key(settings, "other")
    with TestClient(create_app(settings, run_reconciler=False), headers=bearer(other)) as client:
        assert client.delete(f"/v1/models/{model_id}").status_code == 404
        assert client.delete(f"/v1/jobs/{job_id}").status_code == 404


def test_another_api_process_stops_serving_a_deleted_model(
    settings: Settings, api_key: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model_id, _ = finished_model(settings, tmp_path)
    headers = bearer(api_key)
    with (
        TestClient(create_app(settings, run_reconciler=False), headers=headers) as serving,
        TestClient(create_app(settings, run_reconciler=False), headers=headers) as deleting,
    ):
        assert embed(serving, model_id) == 200
        assert deleting.delete(f"/v1/models/{model_id}").status_code == 204
        monkeypatch.setattr(model_cache, "RECHECK_SECONDS", 0.0)  # as if 5 s had passed
        assert embed(serving, model_id) == 404
        assert model_id not in serving.app.state.model_cache.loaded_ids()  # type: ignore[attr-defined]
