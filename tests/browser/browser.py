"""Headless Chromium for the dashboard tests: Debian's browser, driven by Playwright.

No browser is downloaded (never ``playwright install``): ``.ci/run`` installs Debian's
``chromium`` package. Without it these tests skip, or fail where the services are required.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.integration.services import REQUIRE_ENV

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LAPTOP = {"width": 1366, "height": 768}


def required_chromium() -> str:
    """The browser's path; a skip (a failure when services are required) if it is missing."""
    path = CHROMIUM if os.access(CHROMIUM, os.X_OK) else shutil.which("chromium")
    missing = None
    if path is None:
        missing = f"{CHROMIUM} not installed (apt-get install chromium)"
    else:
        try:
            import playwright  # noqa: F401
        except ImportError:
            missing = "the playwright package is not installed (pip install -e '.[dev]')"
    if missing is None and path is not None:
        return path
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{missing}; browser tests are required when {REQUIRE_ENV}=1")
    pytest.skip(missing or "no browser")


@contextmanager
def browser_page(artifacts: Path, api_key: str | None = None) -> Iterator[Page]:
    """A laptop-sized page; on any failure a screenshot lands in ``artifacts``.

    With ``api_key``, the page starts with the key already saved, as after a first visit.
    """
    from playwright.sync_api import sync_playwright

    executable = required_chromium()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport=LAPTOP)
        if api_key is not None:
            page.add_init_script(f"localStorage.setItem('sslpt.apiKey', {json.dumps(api_key)})")
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        try:
            yield page
            assert not errors, f"JavaScript errors on the page: {errors}"
        except BaseException:
            shot = artifacts / "failure.png"
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot of the failing page: {shot}")
            raise
        finally:
            browser.close()
