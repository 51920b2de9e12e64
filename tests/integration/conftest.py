"""Integration tests start real API and worker processes (and use Redis and PostgreSQL
when ``SSLPT_TEST_REDIS_URL`` / ``SSLPT_TEST_POSTGRES_URL`` are set): every test in this
folder carries the ``integration`` marker (``pytest -m "not integration"`` skips them)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.services import Service

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="module")
def client(service: Service) -> Iterator[httpx.Client]:
    """An HTTP client of the module's ``service`` fixture (its admin key sent)."""
    with service.client(timeout=60) as http:
        yield http
