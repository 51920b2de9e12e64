"""Importing the shared layer or the app creates no file, opens no connection, starts no
thread: a fresh interpreter imports them in an empty folder and reports what changed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os, socket, sys, threading
opened = []
real_connect = socket.socket.connect
def connect(self, address):
    opened.append(repr(address))
    return real_connect(self, address)
socket.socket.connect = connect
before_threads = {t.name for t in threading.enumerate()}
import importlib
importlib.import_module(sys.argv[1])
after_threads = {t.name for t in threading.enumerate()}
print(json.dumps({"threads": sorted(after_threads - before_threads), "connections": opened}))
"""


def files_under(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.mark.parametrize(
    "module", ["api.core", "api.core.persistence.db", "api.core.queue", "api.main", "api.cli"]
)
def test_importing_has_no_side_effects(module: str, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "SSLPT_DATA_DIR": str(data_dir),
        "SSLPT_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE, module],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report == {"threads": [], "connections": []}
    assert files_under(tmp_path) == set(), f"{module} created {files_under(tmp_path)}"
