"""Linear-probe evaluations over HTTP: what is queued, what is refused, what is found."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.persistence import evaluations
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT
from api.core.queue import QUEUE
from api.core.settings import Settings
from api.main import create_app
from tests.image_folders import make_image_folder
from tests.ingest import register as register_folder
from tests.keys import bearer
from tests.serving.random_models import register_random_model


def register(client: TestClient, folder: Path) -> str:
    return str(register_folder(client, folder, folder.name)["id"])


@pytest.fixture
def labeled_id(client: TestClient, image_folder: Path) -> str:
    return register(client, image_folder)


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path, labeled_id: str) -> str:
    """A tiny SimCLR model (random weights) recorded as if a job had produced it."""
    return register_random_model(
        settings.resolved_database_url, tmp_path / "model", dataset_id=labeled_id
    )


def test_evaluate_queues_a_row_and_publishes_only_its_id(
    client: TestClient, settings: Settings, model_id: str, labeled_id: str
) -> None:
    response = client.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": labeled_id})
    assert response.status_code == 202, response.text
    evaluation = response.json()
    assert (evaluation["status"], evaluation["top1"]) == ("queued", None)
    assert (evaluation["model_id"], evaluation["dataset_id"]) == (model_id, labeled_id)
    messages = list((settings.broker_dir / "queue").glob(f"*.{QUEUE}.msg"))  # not ingests
    assert len(messages) == 1 and evaluation["id"] in messages[0].read_text()
    assert client.get(f"/v1/evaluations/{evaluation['id']}").json() == evaluation
    listed = client.get(f"/v1/models/{model_id}/evaluations").json()
    assert [e["id"] for e in listed] == [evaluation["id"]]


def test_an_unlabeled_dataset_is_422(client: TestClient, model_id: str, tmp_path: Path) -> None:
    unlabeled = register(client, make_image_folder(tmp_path / "flat", labeled=False))
    response = client.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": unlabeled})
    assert response.status_code == 422
    assert response.json()["code"] == "dataset_not_labeled"


def test_a_single_class_dataset_is_422(client: TestClient, model_id: str, tmp_path: Path) -> None:
    one_class = register(client, make_image_folder(tmp_path / "one", classes=1))
    response = client.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": one_class})
    assert response.status_code == 422
    assert response.json()["code"] == "dataset_not_labeled"


@pytest.mark.parametrize(
    ("body", "field"),
    [({"dataset_id": "missing"}, "dataset_id"), ({}, "dataset_id"), ({"x": 1}, "x")],
)
def test_a_bad_body_is_422_naming_the_field(
    client: TestClient, model_id: str, body: dict[str, object], field: str
) -> None:
    response = client.post(f"/v1/models/{model_id}/evaluate", json=body)
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json()["details"]]


def test_unknown_model_or_evaluation_is_404(client: TestClient, labeled_id: str) -> None:
    evaluate = client.post("/v1/models/nope/evaluate", json={"dataset_id": labeled_id})
    assert (evaluate.status_code, evaluate.json()["code"]) == (404, "model_not_found")
    assert client.get("/v1/models/nope/evaluations").json()["code"] == "model_not_found"
    missing = client.get("/v1/evaluations/nope")
    assert (missing.status_code, missing.json()["code"]) == (404, "evaluation_not_found")


def test_broker_down_is_503_and_leaves_no_evaluation(
    api_key: str, settings: Settings, model_id: str, labeled_id: str
) -> None:
    down = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(down, run_reconciler=False), headers=bearer(api_key)) as client:
        response = client.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": labeled_id})
        assert (response.status_code, response.json()["code"]) == (503, "broker_unavailable")
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert evaluations.list_for_model(session, model_id) == []
