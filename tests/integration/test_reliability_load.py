"""Many tiny jobs submitted at once over HTTP, two workers: each runs exactly once."""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select

from api.core.persistence.tables import JobEvent, TrainedModel
from tests.image_folders import make_image_folder
from tests.integration.faults import wait_until
from tests.integration.services import (
    production_service,
    register_folder,
)

pytestmark = pytest.mark.integration

JOBS = int(os.environ.get("SSLPT_TEST_LOAD_JOBS", "200"))
SUBMITTERS = 16  # concurrent HTTP clients
TINY = {"method": "simclr", "backbone": "tiny_cnn", "image_size": 16, "epochs": 1, "batch_size": 8}


def test_many_concurrent_jobs_all_succeed_once_with_two_workers(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=4, labeled=False)  # 2 steps a job
    with (
        production_service(
            tmp_path,
            SSLPT_PROGRESS_EVERY_STEPS="2",
            # one tenant submits all: lift its quota and rate limit (tested elsewhere)
            SSLPT_MAX_ACTIVE_JOBS_PER_TENANT=str(JOBS),
            SSLPT_RATE_LIMIT_PER_SECOND="0",
        ) as service,
        service.client(timeout=120) as client,
    ):
        service.start("worker")
        body = {**TINY, "dataset_id": register_folder(client, folder, "tiny")}

        started = time.monotonic()
        with ThreadPoolExecutor(SUBMITTERS) as pool:
            responses = list(pool.map(lambda _: client.post("/v1/jobs", json=body), range(JOBS)))
        submitted = time.monotonic() - started
        assert [r.status_code for r in responses] == [201] * JOBS
        ids = {r.json()["id"] for r in responses}
        assert len(ids) == JOBS

        def finished() -> int:
            page = client.get("/v1/jobs", params={"status": ["succeeded", "failed"], "limit": 1})
            return int(page.json()["total"]) >= JOBS

        wait_until(finished, 600, f"{JOBS} jobs did not finish", every=1.0)
        elapsed = time.monotonic() - started
        succeeded = client.get("/v1/jobs", params={"status": "succeeded", "limit": 1}).json()
        assert succeeded["total"] == JOBS

        engine = create_engine(service.env["SSLPT_DATABASE_URL"])
        with engine.connect() as db:
            claims = dict(
                db.execute(
                    select(JobEvent.job_id, func.count())
                    .where(JobEvent.to_status == "running")
                    .group_by(JobEvent.job_id)
                ).all()
            )
            models = db.execute(select(TrainedModel.job_id)).scalars().all()
        engine.dispose()
        assert claims == dict.fromkeys(ids, 1)  # every job started exactly once
        assert sorted(models) == sorted(ids)  # and published exactly one model
    with capsys.disabled():
        print(
            f"\n[load] {JOBS} jobs: submitted over HTTP in {submitted:.1f}s, "
            f"all succeeded after {elapsed:.1f}s with 2 workers"
        )
