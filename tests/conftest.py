"""Shared fixtures: a migrated SQLite database and an in-process API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from api.main import create_app
from api.persistence.migrate import upgrade
from api.settings import Settings
from tests.image_folders import make_image_folder

# The suite shares 2 cores with the worker processes the integration tests start: one
# thread each keeps timings stable and avoids oversubscription.
torch.set_num_threads(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data")
    upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings, run_reconciler=False)) as test_client:
        yield test_client


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "images")
