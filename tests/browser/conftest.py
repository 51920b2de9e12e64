"""Browser tests drive Debian's Chromium through Playwright against real API and worker
processes: every test in this folder carries the ``browser`` marker (``pytest -m "not
browser"`` skips them)."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if HERE in item.path.parents:
            item.add_marker(pytest.mark.browser)
