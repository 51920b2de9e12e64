"""Datasets registered or uploaded through the in-process app, then ingested right here.

The API only queues a dataset's ingest; in-process tests have no ingest worker, so these
helpers run the worker's own ``ingest_dataset`` (with its child process and limits) on the
queued row, as the ingest worker would when the message arrives.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from api.core.settings import Settings
from worker.ingest import ingest_dataset


def ingested(client: TestClient, dataset_id: str, **request: Any) -> dict[str, Any]:
    """Run the ingest of ``dataset_id`` and return the dataset as the API shows it then."""
    settings: Settings = client.app.state.settings  # type: ignore[attr-defined]
    ingest_dataset(settings, dataset_id)
    answer = client.get(f"/v1/datasets/{dataset_id}", **request)
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def register(client: TestClient, folder: Path, name: str = "d", **request: Any) -> dict[str, Any]:
    """Register ``folder`` and ingest it; the dataset (``ready``, or ``failed``)."""
    queued = client.post("/v1/datasets", json={"name": name, "path": str(folder)}, **request)
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "ingesting"
    return ingested(client, queued.json()["id"], **request)


def upload(client: TestClient, archive: bytes, name: str = "d", **request: Any) -> dict[str, Any]:
    """Upload ``archive`` and ingest it; the dataset (``ready``, or ``failed``)."""
    queued = client.post("/v1/datasets/upload", params={"name": name}, content=archive, **request)
    assert queued.status_code == 202, queued.text
    return ingested(client, queued.json()["id"], **request)
