"""Representation quality through the real service: kNN per epoch, then a linear probe."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.image_folders import make_image_folder
from tests.integration.services import (
    Service,
    production_service,
    register_folder,
    running_service,
    wait_for_job,
)

pytestmark = pytest.mark.integration

EPOCHS = 3


def wait_for_evaluation(client: httpx.Client, evaluation_id: str, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        evaluation: dict[str, object] = client.get(f"/v1/evaluations/{evaluation_id}").json()
        if evaluation["status"] in ("succeeded", "failed"):
            return evaluation
        time.sleep(0.5)
    raise TimeoutError(f"evaluation {evaluation_id} did not finish in {timeout}s")


def knn_then_probe(service: Service, folder: Path) -> None:
    with service.client(timeout=60) as client:
        dataset_id = register_folder(client, folder, "d")
        job_body = {
            "method": "simclr",
            "dataset_id": dataset_id,
            "backbone": "tiny_cnn",
            "image_size": 16,
            "epochs": EPOCHS,
            "batch_size": 12,
        }
        job = wait_for_job(client, client.post("/v1/jobs", json=job_body).json()["id"])
        assert job["status"] == "succeeded", job
        # 40 images, 4 held out (one per class): 36 train -> 3 steps of 12 per epoch.
        assert job["progress"]["total_steps"] == 3 * EPOCHS  # type: ignore[index]
        series = client.get(f"/v1/jobs/{job['id']}/metrics", params={"name": "knn_top1"}).json()
        knn = series["series"]["knn_top1"]
        assert [(p["epoch"], p["step"]) for p in knn] == [(e, 3 * (e + 1)) for e in range(EPOCHS)]
        assert all(0.0 <= p["value"] <= 1.0 for p in knn)
        assert job["latest_metrics"]["knn_top1"] == knn[-1]["value"]  # type: ignore[index]

        model_id = job["model_id"]
        queued = client.post(f"/v1/models/{model_id}/evaluate", json={"dataset_id": dataset_id})
        assert queued.status_code == 202, queued.text
        evaluation = wait_for_evaluation(client, queued.json()["id"])
        assert evaluation["status"] == "succeeded", evaluation
        assert 0.0 <= evaluation["top1"] <= 1.0
        assert evaluation["metrics"]["held_out_images"] == 4
        model = client.get(f"/v1/models/{model_id}").json()
        assert model["metrics"]["linear_top1"] == evaluation["top1"]


def test_knn_per_epoch_and_linear_probe_on_the_embedded_service(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=10, size=16)
    with running_service(tmp_path) as service:
        knn_then_probe(service, folder)


def test_knn_per_epoch_and_linear_probe_on_redis_and_postgresql(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=10, size=16)
    with production_service(tmp_path) as service:
        knn_then_probe(service, folder)
