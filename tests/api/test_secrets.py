"""Secrets stay out of logs and other users' reach."""

from __future__ import annotations

import logging
import logging.config
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from api.access_log import DropQueryString, without_query_strings


def access_record(path: str) -> logging.LogRecord:
    """A record shaped as uvicorn's access logger makes it."""
    return logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", path, "1.1", 200), None,
    )  # fmt: skip


def test_the_access_log_drops_query_strings() -> None:
    record = access_record("/v1/jobs?api_key=sslpt_secret&limit=5")
    assert DropQueryString().filter(record)
    assert "sslpt_secret" not in record.getMessage()
    assert "GET /v1/jobs HTTP/1.1" in record.getMessage()


def test_the_filter_is_on_uvicorns_access_handler(capsys: pytest.CaptureFixture[str]) -> None:
    logging.config.dictConfig(without_query_strings())
    logging.getLogger("uvicorn.access").handle(access_record("/v1/me?api_key=sslpt_secret"))
    logged = capsys.readouterr()
    assert "/v1/me" in logged.out + logged.err
    assert "sslpt_secret" not in logged.out + logged.err


def test_the_service_creates_private_files(tmp_path: Path) -> None:
    """`sslpt db upgrade` (like `api` and `up`) runs under umask 077: the database is 0600."""
    env = {**os.environ, "SSLPT_DATA_DIR": str(tmp_path / "data")}
    env.pop("SSLPT_DATABASE_URL", None)
    subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "upgrade"],
        env=env, check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    database = tmp_path / "data" / "sslpt.db"
    assert stat.S_IMODE(database.stat().st_mode) & 0o077 == 0
    assert stat.S_IMODE((tmp_path / "data").stat().st_mode) & 0o077 == 0
