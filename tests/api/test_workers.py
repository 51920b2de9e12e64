"""GET /v1/workers and /ready's worker summary: the operator sees every worker, a tenant
only the workers running its own work; alive means a recent heartbeat."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from api.core.persistence import api_keys, datasets, jobs, workers
from api.core.persistence.db import session_scope
from api.core.persistence.tables import Worker, utcnow
from api.core.settings import Settings
from api.main import create_app
from tests.keys import bearer, create_key
from worker.registration import Registration

HOUR = timedelta(hours=1)


def add_worker(settings: Settings, worker_id: str, heartbeat_age: float = 0) -> None:
    now = utcnow()
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        workers.register(
            session,
            Worker(
                id=worker_id, host="vm", pid=int(worker_id.split(":")[1]), queue="sslpt",
                device="cpu", started_at=now - HOUR,
                last_heartbeat_at=now - timedelta(seconds=heartbeat_age), tasks_done=3,
            ),
        )  # fmt: skip


def running_job(settings: Settings, tenant: str, owner: str) -> str:
    url = settings.resolved_database_url
    with session_scope(url, tenant=None) as session:
        api_keys.ensure_tenant(session, tenant)
    with session_scope(url, tenant=tenant) as session:
        dataset = datasets.create_dataset(session, name="d", path="/x", image_count=4)
        job_id = jobs.create_job(
            session, method="simclr", dataset_id=dataset.id, backbone="tiny_cnn",
            image_size=16, epochs=1, batch_size=2, seed=0,
        ).id  # fmt: skip
    with session_scope(url, tenant=None) as session:
        assert jobs.claim(session, job_id, owner, HOUR) is not None
    return job_id


def test_the_operator_sees_every_worker_and_a_tenant_only_those_running_its_work(
    settings: Settings,
) -> None:
    add_worker(settings, "vm:1")
    add_worker(settings, "vm:2")
    add_worker(settings, "vm:3", heartbeat_age=60)  # silent: not alive
    mine, theirs = running_job(settings, "a", "vm:1"), running_job(settings, "b", "vm:2")
    operator = create_key(settings, "ops", admin=True, operator=True)
    tenant_a = create_key(settings, "a", admin=True)
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        seen = {w["id"]: w for w in client.get("/v1/workers", headers=bearer(operator)).json()}
        assert set(seen) == {"vm:1", "vm:2", "vm:3"}
        assert seen["vm:1"]["current_tasks"] == [{"kind": "job", "id": mine}]
        assert seen["vm:2"]["current_tasks"] == [{"kind": "job", "id": theirs}]
        assert [seen[w]["alive"] for w in ("vm:1", "vm:2", "vm:3")] == [True, True, False]
        assert seen["vm:1"]["tasks_done"] == 3 and seen["vm:1"]["device"] == "cpu"

        as_a = client.get("/v1/workers", headers=bearer(tenant_a)).json()
        assert [(w["id"], w["current_tasks"]) for w in as_a] == [
            ("vm:1", [{"kind": "job", "id": mine}])
        ]

        ready = client.get("/ready").json()
        assert ready["workers"] == {"alive": 2, "down_reason": None}


def test_ready_says_why_no_worker_is_alive_and_stays_ready(settings: Settings) -> None:
    add_worker(settings, "vm:9", heartbeat_age=60)
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["workers"]["alive"] == 0
    assert "no worker has sent a heartbeat" in ready.json()["workers"]["down_reason"]


def test_a_worker_registers_itself_and_is_marked_stopped(
    settings: Settings, tmp_path: Path
) -> None:
    registration = Registration(settings.model_copy(update={"device": "cpu"}), "sslpt")
    registration.start()
    registration.tasks_done = 2
    url = settings.resolved_database_url
    with session_scope(url, tenant=None) as session:
        workers.heartbeat(session, registration.worker_id, registration.tasks_done)
        row = session.get(Worker, registration.worker_id)
        assert row is not None and row.device == "cpu" and row.tasks_done == 2
        assert workers.count_alive(session, utcnow()) == 1
    registration.stop("stopped")
    with session_scope(url, tenant=None) as session:
        row = session.get(Worker, registration.worker_id)
        assert row is not None and row.stopped_at is not None and row.stop_reason == "stopped"
        assert workers.count_alive(session, utcnow()) == 0


def test_a_worker_starts_with_the_database_down_and_registers_later(settings: Settings) -> None:
    down = settings.model_copy(
        update={"device": "cpu", "database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )
    registration = Registration(down, "sslpt")
    registration.start()  # logged, not raised: the worker goes on and retries
    assert not registration._registered
    registration.stop("stopped")
