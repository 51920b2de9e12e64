"""/metrics carries what an operator alerts on; per-tenant series only for the operator."""

from __future__ import annotations

from datetime import timedelta

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.core.artifacts import tenant_dir
from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.queue import RUN_JOB_TASK
from api.core.settings import Settings
from api.main import create_app
from api.reconciler import reconcile_once
from tests.api.test_workers import add_worker, running_job
from tests.keys import bearer, create_key
from tests.worker.test_model_task_leases import SentMessages

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def samples(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_jobs_queue_workers_and_bytes_are_exported_and_tenants_only_to_the_operator(
    settings: Settings,
) -> None:
    add_worker(settings, "vm:1")
    running = running_job(settings, "a", "vm:1")
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        job = jobs.get_job(session, running)
        assert job is not None
        job.images_per_sec = 120.0
        job.latest_metrics = {"data_wait_fraction": 0.25}
        dataset_id = job.dataset_id
    with session_scope(settings.resolved_database_url, tenant="a") as session:
        for _ in range(2):  # two queued jobs of tenant a
            jobs.create_job(
                session, method="simclr", dataset_id=dataset_id, backbone="tiny_cnn",
                image_size=16, epochs=1, batch_size=2, seed=0,
            )  # fmt: skip
    stored = tenant_dir(settings, "a") / "models" / "m" / "model.safetensors"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"x" * 5000)
    operator = create_key(settings, "ops", admin=True, operator=True)
    tenant_key = create_key(settings, "a", admin=True)

    with TestClient(create_app(settings, run_reconciler=False)) as client:
        public = samples(client.get("/metrics").text)
        assert public[("sslpt_jobs", (("status", "queued"),))] == 2
        assert public[("sslpt_jobs", (("status", "running"),))] == 1
        assert public[("sslpt_queue_depth", ())] == 2
        assert public[("sslpt_queue_oldest_seconds", ())] >= 0
        assert public[("sslpt_workers_alive", ())] == 1
        assert public[("sslpt_training_images_per_second", ())] == 120.0
        assert public[("sslpt_stored_bytes", ())] == 5000
        assert not any(dict(labels).get("tenant") for _, labels in public)
        as_tenant = samples(client.get("/metrics", headers=bearer(tenant_key)).text)
        assert not any(dict(labels).get("tenant") for _, labels in as_tenant)

        full = samples(client.get("/metrics", headers=bearer(operator)).text)
        assert full[("sslpt_tenant_jobs", (("status", "queued"), ("tenant", "a")))] == 2
        job_labels = (("job", running), ("tenant", "a"))
        assert full[("sslpt_job_images_per_second", job_labels)] == 120.0
        assert full[("sslpt_job_data_wait_fraction", job_labels)] == 0.25
        assert full[("sslpt_tenant_stored_bytes", (("tenant", "a"),))] == 5000

        refused = client.get("/metrics", headers=bearer("not-a-key"))
        assert refused.status_code == 401


def test_reconciler_requeues_are_counted(settings: Settings) -> None:
    job_id = running_job(settings, "a", "vm:gone")
    key = ("sslpt_reconciler_requeues_total", (("task", RUN_JOB_TASK),))
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        before = samples(client.get("/metrics").text).get(key, 0.0)
        with session_scope(settings.resolved_database_url, tenant=None) as session:
            job = jobs.get_job(session, job_id)
            assert job is not None and job.lease_expires_at is not None
            job.lease_expires_at -= timedelta(days=1)
        assert reconcile_once(settings, SentMessages()) == [job_id]  # type: ignore[arg-type]
        assert samples(client.get("/metrics").text)[key] == before + 1
