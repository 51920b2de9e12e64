"""A job whose method makes images keeps one picture per epoch: listed on the job, served
as a PNG, counted in its stored bytes and deleted with it (the worker in-process)."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.core.persistence.tables import JobStatus
from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.worker.jobs_in_db import submit
from worker.run_job import run_job


@pytest.mark.parametrize(
    ("method", "backbone", "side"),
    [
        ("vae", "conv_small", 8 * 18 + 2),  # 64 samples, 8 x 8
        ("mae", "vit_micro", 16 * 18 + 2),  # 8 (given, made) pairs in one row
    ],
)
def test_each_epoch_has_a_picture_served_counted_and_deleted_with_the_job(
    client: TestClient, settings: Settings, tmp_path: Path, method: str, backbone: str, side: int
) -> None:
    images = make_image_folder(tmp_path / "images", per_class=4, labeled=False)
    job_id = submit(settings, images, method=method, backbone=backbone, epochs=2)
    assert run_job(settings, job_id) == JobStatus.SUCCEEDED
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["pictures"] == [0, 1]
    picture = client.get(f"/v1/jobs/{job_id}/samples/1")
    assert picture.status_code == 200 and picture.headers["content-type"] == "image/png"
    width, _ = Image.open(io.BytesIO(picture.content)).size
    assert width == side <= 512
    assert job["stored_bytes"] >= len(picture.content)
    missing = client.get(f"/v1/jobs/{job_id}/samples/2")
    assert (missing.status_code, missing.json()["code"]) == (404, "picture_not_found")

    assert client.delete(f"/v1/models/{job['model_id']}").status_code == 204
    assert client.delete(f"/v1/jobs/{job_id}").status_code == 204
    assert client.get(f"/v1/jobs/{job_id}/samples/1").status_code == 404


def test_a_method_that_makes_no_images_keeps_no_pictures(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    job_id = submit(settings, make_image_folder(tmp_path / "images", per_class=2, labeled=False))
    assert run_job(settings, job_id) == JobStatus.SUCCEEDED
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert (job["pictures"], job["stored_bytes"]) == ([], 0)
