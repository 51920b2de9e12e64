"""The lifecycle of stored things through the real service on PostgreSQL + Redis with
Celery worker processes: bytes shown per job and model, a job that needs a GPU left alone
by a CPU-only worker while other work runs, and deletions that free their files on disk."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from api.core.artifacts import embeddings_dir, model_dir, uploaded_dataset_dir
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from api.core.storage import tree_bytes
from tests.image_folders import make_image_folder, zip_folder
from tests.integration.services import production_service, wait_for_dataset, wait_for_job
from tests.integration.test_embedding_service import wait_for_embedding

pytestmark = pytest.mark.integration

RUN = {"method": "simclr", "backbone": "tiny_cnn", "image_size": 16, "epochs": 1, "batch_size": 8}


def upload(client: httpx.Client, folder: Path) -> str:
    queued = client.post("/v1/datasets/upload", params={"name": "up"}, content=zip_folder(folder))
    assert queued.status_code == 202, queued.text
    dataset = wait_for_dataset(client, queued.json()["id"])
    assert dataset["state"] == "ready", dataset
    return str(dataset["id"])


def test_bytes_gpu_fit_and_deletions_on_postgresql_and_redis(tmp_path: Path) -> None:
    with production_service(tmp_path) as service, service.client() as client:
        paths = Settings(data_dir=service.data_dir)  # where the service keeps artifacts
        dataset = upload(client, make_image_folder(tmp_path / "images"))

        gpu = client.post(
            "/v1/jobs", json={**RUN, "dataset_id": dataset, "resources": {"gpu": True}}
        )
        assert gpu.status_code == 201 and gpu.json()["resources"] == {"gpu": True}
        plain = client.post("/v1/jobs", json={**RUN, "dataset_id": dataset}).json()
        trained = wait_for_job(client, plain["id"])  # the CPU worker takes the other job
        assert trained["status"] == "succeeded", trained
        assert client.get(f"/v1/jobs/{gpu.json()['id']}").json()["status"] == "queued"
        assert client.post(f"/v1/jobs/{gpu.json()['id']}/cancel").status_code == 202

        model_id = str(trained["model_id"])
        assert trained["stored_bytes"] == 0  # checkpoints go once the weights are published
        queued = client.post(f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset})
        embedding = wait_for_embedding(client, queued.json()["id"])
        assert embedding["status"] == "succeeded", embedding
        folders = [
            model_dir(paths, LOCAL_TENANT, model_id),
            embeddings_dir(paths, LOCAL_TENANT, embedding["id"]),
        ]
        on_disk = sum(tree_bytes(folder) for folder in folders)
        assert client.get(f"/v1/models/{model_id}").json()["stored_bytes"] == on_disk > 0

        refused = client.delete(f"/v1/jobs/{plain['id']}")
        assert (refused.status_code, refused.json()["code"]) == (409, "job_has_model")
        assert client.delete(f"/v1/models/{model_id}").status_code == 204
        assert not any(folder.exists() for folder in folders)
        assert client.get(f"/v1/models/{model_id}").status_code == 404

        upload_dir = uploaded_dataset_dir(paths, LOCAL_TENANT, dataset)
        assert upload_dir.is_dir()
        assert client.delete(f"/v1/datasets/{dataset}").status_code == 204  # all work ended
        assert not upload_dir.exists()
        assert client.get(f"/v1/jobs/{plain['id']}").json()["dataset_deleted"] is True
        assert client.delete(f"/v1/jobs/{plain['id']}").status_code == 204
        assert client.get(f"/v1/jobs/{plain['id']}").status_code == 404
