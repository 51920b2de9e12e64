"""Workers dying, stopping and racing, with real processes on Redis and PostgreSQL.

One service (API + worker processes) serves the whole module; each test leaves one
healthy worker running for the next (the last one adds a second, to race).
"""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import torch
from safetensors.torch import load_file

from api.core.queue import RUN_JOB_TASK, create_celery, publish
from api.core.settings import Settings
from tests.integration.faults import job_when, kill, step_of, wait_until, workers
from tests.integration.services import (
    Service,
    production_service,
    register_unlabeled_images,
    wait_for_job,
)

pytestmark = pytest.mark.integration

STEPS_PER_EPOCH = 24  # 96 unlabeled images in batches of 4
RUN = {
    "method": "simclr",
    "backbone": "tiny_cnn",
    "image_size": 16,
    "epochs": 2,
    "batch_size": 4,
    "seed": 11,
    "training": {"checkpoint_every_steps": 5},
}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    tmp = tmp_path_factory.mktemp("workers")
    with production_service(
        tmp,
        SSLPT_LEASE_SECONDS="8",  # a lost worker is noticed within ~9 s
        SSLPT_RECONCILE_INTERVAL_SECONDS="1",
    ) as running:
        yield running


@pytest.fixture(scope="module")
def dataset_id(client: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    return register_unlabeled_images(client, tmp_path_factory.mktemp("images"), per_class=24)


def submit(client: httpx.Client, dataset_id: str, **overrides: Any) -> str:
    response = client.post("/v1/jobs", json={**RUN, "dataset_id": dataset_id, **overrides})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def transitions(client: httpx.Client, job_id: str) -> list[str]:
    events = client.get(f"/v1/jobs/{job_id}/events").json()
    return [e["to_status"] for e in events if e["kind"] == "transition"]


def events_of_kind(client: httpx.Client, job_id: str, kind: str) -> list[str]:
    return [
        e["reason"] for e in client.get(f"/v1/jobs/{job_id}/events").json() if e["kind"] == kind
    ]


def resumed_step(client: httpx.Client, job_id: str) -> int:
    (reason,) = events_of_kind(client, job_id, "resumed")
    match = re.fullmatch(r"resumed from step-(\d+) at step (\d+)", reason)
    assert match and int(match[1]) == int(match[2]), reason
    return int(match[2])


def model_weights(service: Service, client: httpx.Client, job: dict[str, object]) -> dict[str, Any]:
    model = client.get(f"/v1/models/{job['model_id']}").json()
    assert model["job_id"] == job["id"]
    return load_file(
        service.data_dir
        / "artifacts"
        / "tenants"
        / "local"
        / "models"
        / model["id"]
        / "model.safetensors"
    )


def the_worker(service: Service) -> subprocess.Popen[bytes]:
    alive = [p for p in workers(service) if p.poll() is None]
    assert len(alive) == 1, "each test starts with exactly one live worker"
    return alive[0]


def test_a_killed_worker_s_job_resumes_from_its_checkpoint_and_matches_a_straight_run(
    service: Service, client: httpx.Client, dataset_id: str
) -> None:
    worker = the_worker(service)
    job_id = submit(client, dataset_id)
    job_when(client, job_id, lambda job: step_of(job) >= 6, timeout=120)
    kill(worker, signal.SIGKILL)
    reference_id = submit(client, dataset_id)  # the same run, never interrupted
    service.start("worker")

    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job
    assert transitions(client, job_id) == [
        "queued", "running", "interrupted", "running", "succeeded",
    ]  # fmt: skip
    assert job["attempts"] == 2
    resumed = resumed_step(client, job_id)
    assert resumed % 5 == 0 and 0 < resumed < STEPS_PER_EPOCH, "resumed mid-epoch"
    total = 2 * STEPS_PER_EPOCH
    series = client.get(f"/v1/jobs/{job_id}/metrics", params={"name": "loss"}).json()["series"]
    assert [point["step"] for point in series["loss"]] == list(range(1, total + 1))

    reference = wait_for_job(client, reference_id)
    assert reference["status"] == "succeeded", reference
    resumed_weights = model_weights(service, client, job)
    straight_weights = model_weights(service, client, reference)
    assert resumed_weights.keys() == straight_weights.keys()
    for name, value in straight_weights.items():
        assert torch.equal(resumed_weights[name], value), name  # bitwise, on CPU


def test_a_stopped_worker_checkpoints_and_leaves_the_job_to_the_next_one(
    service: Service, client: httpx.Client, dataset_id: str
) -> None:
    worker = the_worker(service)
    job_id = submit(client, dataset_id)
    job_when(client, job_id, lambda job: step_of(job) >= 3, timeout=120)
    assert kill(worker, signal.SIGTERM) == 0  # a warm shutdown, not a crash

    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["status"] == "interrupted", job
    stopped = client.get(f"/v1/jobs/{job_id}/events").json()[-1]["reason"]
    match = re.fullmatch(
        r"worker shut down at step (\d+); will resume from its checkpoint", stopped
    )
    assert match, stopped
    step = int(match[1])
    checkpoints = (
        service.data_dir / "artifacts" / "tenants" / "local" / "jobs" / job_id / "checkpoints"
    )
    assert (checkpoints / f"step-{step:08d}" / "model.safetensors").is_file()

    service.start("worker")
    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job
    assert transitions(client, job_id) == [
        "queued", "running", "interrupted", "running", "succeeded",
    ]  # fmt: skip
    assert resumed_step(client, job_id) == step


def test_cancelling_a_running_job_keeps_its_checkpoint_and_a_second_cancel_is_409(
    service: Service, client: httpx.Client, dataset_id: str
) -> None:
    job_id = submit(client, dataset_id, epochs=20)
    job_when(client, job_id, lambda job: step_of(job) >= 2, timeout=120)
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 202

    job = wait_for_job(client, job_id)
    assert job["status"] == "cancelled", job
    reason = client.get(f"/v1/jobs/{job_id}/events").json()[-1]["reason"]
    match = re.fullmatch(r"cancelled at step (\d+); checkpoint kept", reason)
    assert match, reason
    checkpoints = (
        service.data_dir / "artifacts" / "tenants" / "local" / "jobs" / job_id / "checkpoints"
    )
    assert (checkpoints / f"step-{int(match[1]):08d}" / "model.safetensors").is_file()
    assert client.post(f"/v1/jobs/{job_id}/cancel").status_code == 409


def test_duplicate_deliveries_to_racing_workers_train_the_job_once(
    service: Service, client: httpx.Client, dataset_id: str
) -> None:
    service.start("worker")  # two workers now, each may receive a copy
    job_id = submit(client, dataset_id, epochs=1)
    celery = create_celery(Settings(broker_url=service.env["SSLPT_BROKER_URL"]))
    for _ in range(3):
        publish(celery, RUN_JOB_TASK, job_id)  # the same id delivered four times in all

    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded", job
    with celery.connection_for_write() as broker:
        wait_until(
            lambda: broker.default_channel.client.llen("sslpt") == 0,
            60,
            "the duplicate messages were not consumed",
        )
    job = client.get(f"/v1/jobs/{job_id}").json()
    assert job["attempts"] == 1
    assert transitions(client, job_id) == ["queued", "running", "succeeded"]
    assert len(events_of_kind(client, job_id, "data_ready")) == 1
    models = client.get("/v1/models", params={"limit": 500}).json()["items"]
    assert [m["job_id"] for m in models].count(job_id) == 1
