from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.queue import GPU_QUEUE, QUEUE
from api.core.settings import Settings
from api.main import create_app
from tests.ingest import register
from tests.keys import bearer


@pytest.fixture
def dataset_id(client: TestClient, image_folder: Path) -> str:
    return str(register(client, image_folder)["id"])


def job_body(dataset: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "method": "simclr",
        "dataset_id": dataset,
        "backbone": "tiny_cnn",
        "epochs": 1,
        "batch_size": 8,
        "hyperparameters": {"temperature": 0.2},
    }
    body.update(overrides)
    return body


def queued_messages(settings: Settings) -> list[Path]:
    return sorted((settings.broker_dir / "queue").glob(f"*.{QUEUE}.msg"))  # not ingests


def test_submit_stores_a_queued_job_and_publishes_only_its_id(
    client: TestClient, dataset_id: str, settings: Settings
) -> None:
    response = client.post("/v1/jobs", json=job_body(dataset_id))
    assert response.status_code == 201, response.text
    job = response.json()
    assert job["status"] == "queued"
    assert job["hyperparameters"]["temperature"] == 0.2
    assert "projection_dim" in job["hyperparameters"]  # defaults filled in
    assert job["image_size"] == 16  # from the 24 px dataset: the largest standard size <= 24
    messages = queued_messages(settings)
    assert len(messages) == 1
    assert job["id"] in messages[0].read_text()
    events = client.get(f"/v1/jobs/{job['id']}/events").json()
    assert [(e["from_status"], e["to_status"]) for e in events] == [(None, "queued")]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"method": "nope"}, "method"),
        ({"hyperparameters": {"temperature": -1}}, "hyperparameters.temperature"),
        ({"hyperparameters": {"not_a_knob": 1}}, "hyperparameters.not_a_knob"),
        ({"backbone": "vgg11"}, "backbone"),
        ({"dataset_id": "missing"}, "dataset_id"),
        ({"batch_size": 64}, "batch_size"),
        ({"epochs": 0}, "epochs"),
        ({"training": {"optimizer": "rmsprop"}}, "training.optimizer"),
        ({"training": {"betas": [0.9, 1.0]}}, "training.betas.1"),
        ({"training": {"warmup_fraction": 1.5}}, "training.warmup_fraction"),
        ({"training": {"trust_coefficient": 0}}, "training.trust_coefficient"),
        ({"surprise": True}, "surprise"),
    ],
)
def test_invalid_job_is_422_naming_the_field(
    client: TestClient, dataset_id: str, settings: Settings, overrides: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/jobs", json=job_body(dataset_id, **overrides))
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert field in {d["field"] for d in body["details"]}
    assert client.get("/v1/jobs").json()["total"] == 0
    assert queued_messages(settings) == []


def test_list_filters_by_status_and_paginates(client: TestClient, dataset_id: str) -> None:
    ids = [client.post("/v1/jobs", json=job_body(dataset_id)).json()["id"] for _ in range(3)]
    client.post(f"/v1/jobs/{ids[0]}/cancel")
    queued = client.get("/v1/jobs", params={"status": "queued"}).json()
    assert queued["total"] == 2
    assert {j["id"] for j in queued["items"]} == set(ids[1:])
    both = client.get("/v1/jobs", params=[("status", "queued"), ("status", "cancelled")]).json()
    assert both["total"] == 3
    page = client.get("/v1/jobs", params={"limit": 1, "offset": 2}).json()
    assert len(page["items"]) == 1
    assert client.get("/v1/jobs", params={"status": "bogus"}).status_code == 422


def test_cancel_queued_job_then_cancel_again_is_409(client: TestClient, dataset_id: str) -> None:
    job_id = client.post("/v1/jobs", json=job_body(dataset_id)).json()["id"]
    response = client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.status_code == 202
    assert response.json()["status"] == "cancelled"
    again = client.post(f"/v1/jobs/{job_id}/cancel")
    assert again.status_code == 409
    assert again.json()["code"] == "job_finished"


def test_cancel_running_job_asks_the_worker(
    client: TestClient, dataset_id: str, settings: Settings
) -> None:
    job_id = client.post("/v1/jobs", json=job_body(dataset_id)).json()["id"]
    from datetime import timedelta

    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, "test-worker", timedelta(seconds=60))
    response = client.post(f"/v1/jobs/{job_id}/cancel")
    assert response.json()["status"] == JobStatus.CANCELLING
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202  # asking twice is fine


def test_idempotency_key_returns_the_first_job_or_409(client: TestClient, dataset_id: str) -> None:
    headers = {"Idempotency-Key": "abc-123"}
    first = client.post("/v1/jobs", json=job_body(dataset_id), headers=headers)
    second = client.post("/v1/jobs", json=job_body(dataset_id), headers=headers)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.json()["id"] == first.json()["id"]
    different = client.post("/v1/jobs", json=job_body(dataset_id, epochs=2), headers=headers)
    assert different.status_code == 409
    assert different.json()["code"] == "idempotency_conflict"
    assert client.get("/v1/jobs").json()["total"] == 1


def test_unknown_job_routes_are_404(client: TestClient) -> None:
    for path in ("/v1/jobs/x", "/v1/jobs/x/metrics", "/v1/jobs/x/events"):
        assert client.get(path).status_code == 404
    assert client.post("/v1/jobs/x/cancel").status_code == 404


def test_metrics_series_grouped_by_name_since_step(
    client: TestClient, dataset_id: str, settings: Settings
) -> None:
    from api.core.persistence.metrics import record_metrics

    job_id = client.post("/v1/jobs", json=job_body(dataset_id)).json()["id"]
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        for step in (5, 10, 15):
            record_metrics(session, job_id, step, 0, {"loss": 1.0 / step, "lr": 0.1})
        record_metrics(session, job_id, 10, 0, {"loss": 0.5})  # a replayed step replaces
    series = client.get(f"/v1/jobs/{job_id}/metrics", params={"since_step": 5}).json()["series"]
    assert [p["step"] for p in series["loss"]] == [10, 15]
    assert series["loss"][0]["value"] == 0.5
    only_lr = client.get(f"/v1/jobs/{job_id}/metrics", params={"name": "lr"}).json()["series"]
    assert set(only_lr) == {"lr"}


def test_broker_down_is_503_and_leaves_no_job(
    api_key: str, settings: Settings, image_folder: Path, dataset_id: str
) -> None:
    down = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with TestClient(create_app(down, run_reconciler=False), headers=bearer(api_key)) as client:
        refused = client.post("/v1/datasets", json={"name": "d2", "path": str(image_folder)})
        assert (refused.status_code, refused.json()["code"]) == (503, "broker_unavailable")
        assert client.get("/v1/datasets").json()["total"] == 1  # only the fixture's
        response = client.post("/v1/jobs", json=job_body(dataset_id))
        assert response.status_code == 503
        assert response.json()["code"] == "broker_unavailable"
        assert client.get("/v1/jobs").json()["total"] == 0


def test_a_job_that_needs_a_gpu_goes_to_the_gpu_workers_queue(
    client: TestClient, dataset_id: str, settings: Settings
) -> None:
    job = client.post("/v1/jobs", json=job_body(dataset_id, resources={"gpu": True})).json()
    assert job["resources"] == {"gpu": True}
    assert queued_messages(settings) == []
    gpu_messages = sorted((settings.broker_dir / "queue").glob(f"*.{GPU_QUEUE}.msg"))
    assert len(gpu_messages) == 1 and job["id"] in gpu_messages[0].read_text()
    plain = client.post("/v1/jobs", json=job_body(dataset_id)).json()
    assert plain["resources"] == {"gpu": False} and len(queued_messages(settings)) == 1
