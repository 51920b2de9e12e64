"""Concurrent submissions against a quota: counting and inserting is one atomic step.

Before the tenant lock, 16 concurrent POST /v1/jobs against a limit of 1 accepted 14-15.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.persistence.migrate import upgrade
from api.core.settings import Settings
from api.main import create_app
from tests.ingest import register
from tests.integration.services import POSTGRES_ENV, fresh_postgres_database, required_url
from tests.keys import bearer, create_key

CONCURRENT = 16
TINY_JOB = {"method": "simclr", "backbone": "tiny_cnn", "batch_size": 4, "epochs": 1}


def submit_concurrently(settings: Settings, image_folder: Path) -> Counter[int]:
    key = create_key(settings, "racer")
    app = create_app(
        settings.model_copy(update={"max_active_jobs_per_tenant": 1}), run_reconciler=False
    )
    with TestClient(app, headers=bearer(key)) as client:
        body = {**TINY_JOB, "dataset_id": register(client, image_folder)["id"]}
        with ThreadPoolExecutor(CONCURRENT) as pool:
            codes = list(
                pool.map(
                    lambda _: client.post("/v1/jobs", json=body).status_code, range(CONCURRENT)
                )
            )
        listed = client.get("/v1/jobs").json()
    assert listed["total"] == codes.count(201)
    return Counter(codes)


def test_sixteen_concurrent_submissions_against_a_limit_of_one_on_sqlite(
    settings: Settings, image_folder: Path
) -> None:
    assert submit_concurrently(settings, image_folder) == {201: 1, 429: CONCURRENT - 1}


@pytest.mark.integration
def test_sixteen_concurrent_submissions_against_a_limit_of_one_on_postgresql(
    tmp_path: Path, image_folder: Path
) -> None:
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as url:
        settings = Settings(data_dir=tmp_path / "data", dataset_roots=[tmp_path], database_url=url)
        upgrade(url)
        try:
            assert submit_concurrently(settings, image_folder) == {201: 1, 429: CONCURRENT - 1}
        finally:
            from api.core.persistence.db import get_engine

            get_engine(url).dispose()
