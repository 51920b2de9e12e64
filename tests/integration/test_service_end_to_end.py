"""The whole service with real processes: embedded default, and Redis + PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.image_folders import make_image_folder
from tests.integration.roundtrip import simclr_roundtrip
from tests.integration.services import (
    POSTGRES_ENV,
    REDIS_ENV,
    flushed_redis,
    fresh_postgres_database,
    required_url,
    running_service,
)

pytestmark = pytest.mark.integration


def test_embedded_sqlite_and_filesystem_broker(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images")
    with running_service(tmp_path) as service:
        simclr_roundtrip(service, folder)
        assert (service.data_dir / "sslpt.db").exists()
        assert (service.data_dir / "broker").is_dir()


def test_redis_broker_and_postgresql_database(tmp_path: Path) -> None:
    admin_url = required_url(POSTGRES_ENV)
    redis_url = flushed_redis(required_url(REDIS_ENV))
    folder = make_image_folder(tmp_path / "images")
    with (
        fresh_postgres_database(admin_url) as database_url,
        running_service(
            tmp_path, SSLPT_DATABASE_URL=database_url, SSLPT_BROKER_URL=redis_url
        ) as service,
    ):
        simclr_roundtrip(service, folder)
        assert not (service.data_dir / "sslpt.db").exists()
