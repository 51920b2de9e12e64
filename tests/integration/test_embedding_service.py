"""Dataset embedding through a real worker process, then search through the real API."""

from __future__ import annotations

import base64
import time
from pathlib import Path

import httpx
import pytest

from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.integration.services import (
    Service,
    production_service,
    register_folder,
    running_service,
)
from tests.serving.random_models import register_random_model

pytestmark = pytest.mark.integration


def wait_for_embedding(client: httpx.Client, embedding_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        row: dict = client.get(f"/v1/embeddings/{embedding_id}").json()
        if row["status"] in ("succeeded", "failed"):
            return row
        time.sleep(0.3)
    raise TimeoutError(f"dataset embedding {embedding_id} did not finish: {row}")


def embed_and_search(service: Service, database_url: str, folder: Path) -> None:
    model_id = register_random_model(database_url, service.data_dir / "models" / "random")
    with service.client(timeout=60) as client:
        dataset = {"id": register_folder(client, folder, "imgs")}
        queued = client.post(
            f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset["id"]}
        )
        assert queued.status_code == 202, queued.text
        row = wait_for_embedding(client, queued.json()["id"])
        assert row["status"] == "succeeded", row
        assert row["item_count"] == 32 and row["index_kind"] == "flat"

        image = (folder / "blue" / "blue_005.png").read_bytes()
        search = client.post(
            f"/v1/models/{model_id}/search",
            json={"image": base64.b64encode(image).decode(), "k": 5},
        )
        assert search.status_code == 200, search.text
        results = search.json()["results"]
        assert results[0]["path"] == "blue/blue_005.png" and results[0]["label"] == "blue"
        assert results[0]["score"] == pytest.approx(1.0, abs=1e-4)


def test_embedding_job_and_search_with_the_embedded_defaults(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images")
    with running_service(tmp_path) as service:
        url = Settings(data_dir=service.data_dir).resolved_database_url
        embed_and_search(service, url, folder)


def test_embedding_job_and_search_with_redis_and_postgresql(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images")
    with production_service(tmp_path) as service:
        embed_and_search(service, service.env["SSLPT_DATABASE_URL"], folder)
