"""Dataset embedding (the worker function, in-process) and search over HTTP."""

from __future__ import annotations

import base64
import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from ssl_engine.acceleration import resolve_device, serving_precision
from tests.ingest import register
from tests.serving.random_models import register_random_model
from worker.embed_dataset import embed_dataset


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path) -> str:
    return register_random_model(settings.resolved_database_url, tmp_path / "model")


@pytest.fixture
def dataset_id(client: TestClient, image_folder: Path) -> str:
    return str(register(client, image_folder, "imgs")["id"])


def embedded(client: TestClient, settings: Settings, model_id: str, dataset_id: str) -> str:
    """Queue a dataset embedding and run it here, as a worker would."""
    queued = client.post(f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset_id})
    assert queued.status_code == 202, queued.text
    assert queued.json()["status"] == "queued"
    embedding_id = str(queued.json()["id"])
    assert embed_dataset(settings, embedding_id) == "succeeded"
    assert embed_dataset(settings, embedding_id) is None  # a duplicate delivery does nothing
    return embedding_id


def test_an_image_of_the_dataset_finds_itself_first(
    client: TestClient, settings: Settings, model_id: str, dataset_id: str, image_folder: Path
) -> None:
    embedding_id = embedded(client, settings, model_id, dataset_id)
    row = client.get(f"/v1/embeddings/{embedding_id}").json()
    assert (row["status"], row["item_count"], row["dim"], row["index_kind"]) == (
        "succeeded", 32, 64, "flat",
    )  # fmt: skip
    expected = serving_precision(settings.serving_precision, resolve_device(settings.device))
    assert row["stats"]["precision"] == expected  # the precision queries are served at
    for path in ("red/red_003.png", "yellow/yellow_006.jpg"):
        image = (image_folder / path).read_bytes()
        response = client.post(f"/v1/models/{model_id}/search", json={"image": b64(image), "k": 3})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["embedding_id"] == embedding_id and len(body["results"]) == 3
        best = body["results"][0]
        assert (best["path"], best["label"]) == (path, path.split("/")[0])
        assert best["score"] == pytest.approx(1.0, abs=1e-4)


def test_search_by_multipart_file_and_by_vector_agree(
    client: TestClient, settings: Settings, model_id: str, dataset_id: str, image_folder: Path
) -> None:
    embedded(client, settings, model_id, dataset_id)
    image = (image_folder / "green/green_002.jpg").read_bytes()
    url = f"/v1/models/{model_id}/search"
    by_file = client.post(url, files={"file": ("q.jpg", image)}, data={"k": "4"}).json()
    vector = client.post(f"/v1/models/{model_id}/embed", json={"images": [b64(image)]}).json()[
        "embeddings"
    ][0]
    by_vector = client.post(url, json={"vector": vector, "k": 4}).json()
    assert [r["path"] for r in by_file["results"]] == [r["path"] for r in by_vector["results"]]
    assert by_file["results"][0]["path"] == "green/green_002.jpg"


def test_search_before_any_embedding_is_404_with_what_to_do(
    client: TestClient, model_id: str
) -> None:
    response = client.post(f"/v1/models/{model_id}/search", json={"vector": [1.0] * 64})
    assert response.status_code == 404
    assert response.json()["code"] == "embedding_not_found"
    assert "/embeddings" in response.json()["message"]


@pytest.mark.parametrize(
    "body",
    [
        {"vector": [1.0] * 3},  # wrong size
        {"vector": [0.0] * 64},  # no direction
        {"vector": [1.0] * 64, "image": "aGk="},  # both
        {"vector": [1.0] * 64, "k": 0},
    ],
)
def test_bad_search_queries_are_422(
    client: TestClient,
    settings: Settings,
    model_id: str,
    dataset_id: str,
    body: dict[str, object],
) -> None:
    embedded(client, settings, model_id, dataset_id)
    response = client.post(f"/v1/models/{model_id}/search", json=body)
    assert response.status_code == 422, response.text


def test_embedding_a_folder_that_disappeared_fails_with_the_reason(
    client: TestClient, settings: Settings, model_id: str, dataset_id: str, image_folder: Path
) -> None:
    shutil.rmtree(image_folder)
    queued = client.post(f"/v1/models/{model_id}/embeddings", json={"dataset_id": dataset_id})
    assert embed_dataset(settings, queued.json()["id"]) == "failed"
    rows = client.get(f"/v1/models/{model_id}/embeddings").json()
    assert rows[0]["status"] == "failed" and "no longer exists" in rows[0]["failure_reason"]


def test_embedding_an_unknown_dataset_is_422(client: TestClient, model_id: str) -> None:
    response = client.post(f"/v1/models/{model_id}/embeddings", json={"dataset_id": "nope"})
    assert response.status_code == 422
