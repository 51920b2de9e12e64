"""The ingest worker: a child process under limits does the parsing; the API never does."""

from __future__ import annotations

import signal
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.artifacts import tenant_dir
from api.core.settings import Settings
from tests.image_folders import make_image_folder, zip_folder
from tests.ingest import ingested, register


def test_the_api_process_never_opens_an_archive(
    client: TestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = zip_folder(make_image_folder(tmp_path / "images", per_class=2))

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the API process opened an archive")

    for module, name in ((tarfile, "open"), (tarfile, "TarFile"), (zipfile, "ZipFile")):
        monkeypatch.setattr(module, name, refuse)
    queued = client.post("/v1/datasets/upload", params={"name": "d"}, content=archive)
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "ingesting"
    monkeypatch.undo()
    assert ingested(client, queued.json()["id"])["state"] == "ready"  # the child's work


def test_an_ingest_past_its_wall_time_is_killed_and_leaves_nothing(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    archive = zip_folder(make_image_folder(tmp_path / "images", per_class=2))
    with serve(ingest_wall_seconds=0.01) as client:
        queued = client.post("/v1/datasets/upload", params={"name": "d"}, content=archive)
        dataset = ingested(client, queued.json()["id"])
    assert dataset["state"] == "failed"
    assert "SSLPT_INGEST_WALL_SECONDS" in dataset["failure_reason"]
    folder = tenant_dir(settings, "local")
    assert list((folder / "incoming").iterdir()) == []
    assert not (folder / "datasets").exists() or list((folder / "datasets").iterdir()) == []


def test_the_child_limits_its_own_cpu_time() -> None:
    """What stops a parser that spins: the kernel ends the child at RLIMIT_CPU."""
    spin = (
        "from worker.ingest_child import limit_self\nlimit_self(1, 4 * 1024**3)\nwhile True: pass\n"
    )
    child = subprocess.run([sys.executable, "-c", spin], timeout=60, check=False)
    assert child.returncode in (-signal.SIGXCPU, -signal.SIGKILL)


def test_a_registered_folder_that_disappears_before_its_ingest_fails(
    client: TestClient, tmp_path: Path
) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=2)
    queued = client.post("/v1/datasets", json={"name": "d", "path": str(folder)}).json()
    for path in sorted(folder.rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    folder.rmdir()
    dataset = ingested(client, queued["id"])
    assert dataset["state"] == "failed" and "no longer exists" in dataset["failure_reason"]


def test_a_duplicate_ingest_message_does_nothing(client: TestClient, tmp_path: Path) -> None:
    from worker.ingest import ingest_dataset

    dataset = register(client, make_image_folder(tmp_path / "images", per_class=2))
    assert dataset["state"] == "ready"
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    assert ingest_dataset(settings, dataset["id"]) is None
