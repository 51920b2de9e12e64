"""Redis restarting and PostgreSQL going away under a running service.

The service talks to a Redis of its own (restarted empty, as one without persistence
comes back) and to PostgreSQL through a TCP proxy the test cuts: the shared servers
keep running for everything else.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import make_url

from tests.integration.faults import (
    OwnRedis,
    TcpProxy,
    job_when,
    own_redis,
    proxied,
    step_of,
    wait_until,
)
from tests.integration.services import (
    POSTGRES_ENV,
    Service,
    fresh_postgres_database,
    register_unlabeled_images,
    required_url,
    running_service,
    wait_for_job,
)

pytestmark = pytest.mark.integration

# 30 epochs of 8 steps: several seconds of training, long enough to span an outage.
LONG_RUN = {
    "method": "simclr",
    "backbone": "tiny_cnn",
    "image_size": 16,
    "epochs": 30,
    "batch_size": 4,
    "seed": 5,
}


@pytest.fixture(scope="module")
def faults(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[OwnRedis, TcpProxy]]:
    logs = tmp_path_factory.mktemp("fault-logs")
    admin_url = make_url(required_url(POSTGRES_ENV))
    with (
        own_redis(logs) as redis,
        proxied(admin_url.host or "127.0.0.1", admin_url.port or 5432) as proxy,
    ):
        yield redis, proxy


@pytest.fixture(scope="module")
def service(
    faults: tuple[OwnRedis, TcpProxy], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Service]:
    redis, proxy = faults
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as database_url:
        through_proxy = make_url(database_url).set(host="127.0.0.1", port=proxy.port)
        with running_service(
            tmp_path_factory.mktemp("outages"),
            SSLPT_DATABASE_URL=through_proxy.render_as_string(hide_password=False),
            SSLPT_BROKER_URL=redis.url,
            SSLPT_LEASE_SECONDS="30",  # outages here are shorter: no job should be lost
            SSLPT_RECONCILE_INTERVAL_SECONDS="1",
            SSLPT_REQUEUE_WAITING_AFTER_SECONDS="4",
        ) as running:
            yield running


@pytest.fixture(scope="module")
def dataset_id(client: httpx.Client, tmp_path_factory: pytest.TempPathFactory) -> str:
    return register_unlabeled_images(client, tmp_path_factory.mktemp("images"), per_class=8)


def job_body(dataset_id: str, **overrides: Any) -> dict[str, Any]:
    return {**LONG_RUN, "dataset_id": dataset_id, **overrides}


def submit(client: httpx.Client, dataset_id: str, **overrides: Any) -> str:
    response = client.post("/v1/jobs", json=job_body(dataset_id, **overrides))
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def ready_again(client: httpx.Client) -> None:
    wait_until(lambda: client.get("/ready").status_code == 200, 60, "/ready did not recover")


def test_a_redis_restart_loses_no_job_and_training_goes_on(
    faults: tuple[OwnRedis, TcpProxy], client: httpx.Client, dataset_id: str
) -> None:
    redis, _ = faults
    running_id = submit(client, dataset_id)
    running = job_when(client, running_id, lambda job: step_of(job) >= 3, timeout=120)
    waiting_id = submit(client, dataset_id, epochs=1)  # its message is in Redis only

    redis.stop()
    ready = client.get("/ready")
    assert ready.status_code == 503 and ready.json()["details"]["broker"] != "ok"
    refused = client.post("/v1/jobs", json=job_body(dataset_id))
    assert refused.status_code == 503 and refused.json()["code"] == "broker_unavailable"
    job_when(client, running_id, lambda job: step_of(job) > step_of(running) + 2, timeout=60)
    redis.start()  # empty: the waiting job's message is gone
    ready_again(client)

    finished = wait_for_job(client, running_id)
    assert finished["status"] == "succeeded" and finished["attempts"] == 1, finished
    waited = wait_for_job(client, waiting_id)
    assert waited["status"] == "succeeded" and waited["attempts"] == 1, waited
    events = client.get(f"/v1/jobs/{waiting_id}/events").json()
    assert any(e["kind"] == "requeued" for e in events), events


def test_a_database_outage_is_503_and_everything_recovers_by_itself(
    faults: tuple[OwnRedis, TcpProxy], client: httpx.Client, dataset_id: str
) -> None:
    _, database = faults
    job_id = submit(client, dataset_id)
    job_when(client, job_id, lambda job: step_of(job) >= 3, timeout=120)

    database.cut()
    try:
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["details"]["database"] != "ok"
        refused = client.post("/v1/jobs", json=job_body(dataset_id))
        assert refused.status_code == 503 and refused.json()["code"] == "database_unavailable"
        lookup = client.get(f"/v1/jobs/{job_id}")
        assert lookup.status_code == 503 and lookup.json()["code"] == "database_unavailable"
        time.sleep(2)  # the worker trains on; its progress writes fail and are retried
    finally:
        database.restore()
    ready_again(client)

    job = wait_for_job(client, job_id)
    assert job["status"] == "succeeded" and job["attempts"] == 1, job
    assert client.post("/v1/jobs", json=job_body(dataset_id, epochs=1)).status_code == 201
