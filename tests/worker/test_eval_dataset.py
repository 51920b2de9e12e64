"""A job that names a separate labeled dataset trains on all its own images and reports the
online kNN of the other one (the worker in-process, SQLite)."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.core.persistence import datasets, metrics
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.ingest import register
from tests.keys import bearer, create_key
from tests.worker.jobs_in_db import events, job_row, submit
from worker.run_job import run_job


def test_the_knn_of_a_separate_labeled_dataset_is_logged_each_epoch(
    settings: Settings, tmp_path: Path
) -> None:
    unlabeled = make_image_folder(tmp_path / "photos", per_class=6, labeled=False)  # 24
    labeled = make_image_folder(tmp_path / "labeled", per_class=6, size=16)  # 4 classes
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        eval_id = datasets.create_dataset(session, name="l", path=str(labeled), image_count=24).id
    job_id = submit(settings, unlabeled, epochs=2, batch_size=8, eval_dataset_id=eval_id)

    assert run_job(settings, job_id) == JobStatus.SUCCEEDED
    (ready,) = [e.reason for e in events(settings, job_id) if e.kind == "data_ready"]
    assert ready.startswith("24 training images")  # none held out of the job's own images
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        knn = [m for m in metrics.metric_series(session, job_id, names=["knn_top1"])]
    assert [m.epoch for m in knn] == [0, 1]
    assert all(0.0 <= m.value <= 1.0 for m in knn)
    assert job_row(settings, job_id).latest_metrics["knn_top1"] == knn[-1].value


def test_the_evaluation_dataset_must_exist_be_labeled_and_be_the_callers(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    def add(name: str, labeled: bool) -> str:
        folder = make_image_folder(tmp_path / name, per_class=2, labeled=labeled)
        return str(register(client, folder, name)["id"])

    train, flat, classes = add("train", False), add("flat", False), add("classes", True)
    body = {"method": "simclr", "dataset_id": train, "batch_size": 4, "backbone": "tiny_cnn"}

    def submit_with(eval_id: str, **headers: str) -> tuple[int, str]:
        answer = client.post("/v1/jobs", json={**body, "eval_dataset_id": eval_id}, headers=headers)
        return answer.status_code, answer.json().get("code", "")

    assert submit_with("nope") == (422, "validation_error")
    assert submit_with(flat) == (422, "dataset_not_labeled")
    accepted = client.post("/v1/jobs", json={**body, "eval_dataset_id": classes})
    assert accepted.status_code == 201 and accepted.json()["eval_dataset_id"] == classes
    other = bearer(create_key(settings, "team-b"))
    mine = make_image_folder(tmp_path / "b", per_class=2, labeled=False)
    b_train = register(client, mine, "b", headers=other)
    refused = client.post(
        "/v1/jobs",
        json={**body, "dataset_id": b_train["id"], "eval_dataset_id": classes},
        headers=other,
    )
    assert refused.status_code == 422 and "eval_dataset_id" in refused.text
