"""Shared fixtures: a migrated SQLite database and an in-process API client."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from api.core.persistence.migrate import upgrade
from api.core.persistence.tables import LOCAL_TENANT
from api.core.settings import Settings
from api.main import create_app
from tests.image_folders import make_image_folder
from tests.keys import bearer, create_key

# The suite shares 2 cores with the worker processes the integration tests start: one
# thread each keeps timings stable and avoids oversubscription.
torch.set_num_threads(1)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    settings = Settings(data_dir=tmp_path / "data", dataset_roots=[tmp_path])
    upgrade(settings.resolved_database_url)
    return settings


@pytest.fixture
def api_key(settings: Settings) -> str:
    """A key of the ``local`` tenant: what the ``client`` fixture sends."""
    return create_key(settings, LOCAL_TENANT)


@pytest.fixture
def client(settings: Settings, api_key: str) -> Iterator[TestClient]:
    """The app in process, every request sent with ``api_key``."""
    with TestClient(create_app(settings, run_reconciler=False), headers=bearer(api_key)) as test:
        yield test


@pytest.fixture
def serve(settings: Settings, api_key: str) -> Callable[..., TestClient]:
    """Make a client of an app with some settings changed, sending ``api_key``."""

    def make(**overrides: object) -> TestClient:
        app = create_app(settings.model_copy(update=overrides), run_reconciler=False)
        return TestClient(app, headers=bearer(api_key))

    return make


@pytest.fixture
def image_folder(tmp_path: Path) -> Path:
    return make_image_folder(tmp_path / "images")
