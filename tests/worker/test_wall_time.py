"""A job stops, checkpointed, once its running time (summed over attempts) reaches its
``max_wall_seconds``, and fails with ``wall_time_exceeded``."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.core.artifacts import checkpoints_dir
from api.core.persistence import jobs
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from api.main import create_app
from ssl_engine.checkpoint import load_latest
from tests.image_folders import make_image_folder
from tests.ingest import register
from tests.keys import bearer, create_key
from tests.worker.jobs_in_db import job_row, submit
from worker.run_job import run_job


def test_a_job_at_its_wall_time_is_checkpointed_and_fails(
    settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=8, labeled=False)
    # 200 epochs would take minutes; 1.5 s were used by an earlier attempt, 3 s are allowed.
    job_id = submit(settings, folder, epochs=200, max_wall_seconds=3)
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        job = jobs.get_job(session, job_id)
        assert job is not None
        job.wall_seconds = 1.5
    fast_beats = settings.model_copy(update={"lease_seconds": 5})  # a beat every 1.25 s
    assert run_job(fast_beats, job_id) == JobStatus.FAILED
    job = job_row(settings, job_id)
    assert job.failure_reason is not None
    assert job.failure_reason.startswith("wall_time_exceeded")
    assert 3 <= job.wall_seconds < 3 + 2 * 1.25 + 1
    assert 0 < job.step < job.total_steps
    state = load_latest(checkpoints_dir(settings, LOCAL_TENANT, job_id))
    assert state is not None  # stopped with a checkpoint, at the step the reason names
    assert f"stopped at step {state.step};" in job.failure_reason


def test_the_wall_time_a_job_may_ask_for_is_capped_per_tenant(
    settings: Settings, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=4)
    operator = create_key(settings, "ops", admin=True, operator=True)
    key = create_key(settings, LOCAL_TENANT)
    capped = settings.model_copy(update={"job_wall_seconds": 600, "max_job_wall_seconds": 3600})
    with TestClient(create_app(capped, run_reconciler=False), headers=bearer(key)) as client:
        body = {"method": "simclr", "backbone": "tiny_cnn", "batch_size": 4, "epochs": 1}
        body["dataset_id"] = register(client, folder)["id"]
        default = client.post("/v1/jobs", json=body).json()
        assert default["max_wall_seconds"] == 600 and default["wall_seconds"] == 0
        over = client.post("/v1/jobs", json={**body, "max_wall_seconds": 7200})
        assert over.status_code == 422 and over.json()["details"][0]["field"] == "max_wall_seconds"
        raised = client.put(
            f"/v1/tenants/{LOCAL_TENANT}",
            json={"max_wall_seconds": 86400},
            headers=bearer(operator),
        )
        assert raised.status_code == 200 and raised.json()["max_wall_seconds"] == 86400
        allowed = client.post("/v1/jobs", json={**body, "max_wall_seconds": 7200})
        assert allowed.status_code == 201 and allowed.json()["max_wall_seconds"] == 7200
        assert job_row(settings, allowed.json()["id"]).max_wall_seconds == 7200
