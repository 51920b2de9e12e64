"""The whole service with real processes: embedded default, and Redis + PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.image_folders import make_image_folder
from tests.integration.roundtrip import simclr_roundtrip
from tests.integration.services import (
    production_service,
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
    folder = make_image_folder(tmp_path / "images")
    with production_service(tmp_path) as service:
        simclr_roundtrip(service, folder)
        assert not (service.data_dir / "sslpt.db").exists()
