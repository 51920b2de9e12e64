from __future__ import annotations

import os
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.settings import Settings
from tests.image_folders import make_image_folder
from tests.ingest import ingested, register
from tests.keys import bearer, create_key


def test_register_labeled_folder_records_classes_and_counts(
    client: TestClient, image_folder: Path
) -> None:
    queued = client.post("/v1/datasets", json={"name": "shapes", "path": str(image_folder)})
    assert queued.status_code == 202, queued.text
    assert (queued.json()["state"], queued.json()["image_count"]) == ("ingesting", 0)
    body = ingested(client, queued.json()["id"])
    assert body["state"] == "ready" and body["failure_reason"] is None
    assert body["image_count"] == 32
    assert body["labeled"] is True
    assert body["classes"] == ["blue", "green", "red", "yellow"]
    assert body["class_counts"] == {"blue": 8, "green": 8, "red": 8, "yellow": 8}
    assert body["unreadable_count"] == 0
    assert body["size_stats"]["width"]["max"] == 24
    assert client.get("/v1/datasets").json()["items"] == [body]


def test_unlabeled_folder_and_unreadable_files_are_reported(
    client: TestClient, tmp_path: Path
) -> None:
    root = make_image_folder(tmp_path / "flat", per_class=3, labeled=False)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("ignored: not an image extension")
    body = register(client, root, "flat")
    assert body["labeled"] is False
    assert body["image_count"] == 12
    assert body["unreadable_count"] == 1
    assert body["unreadable"][0]["path"] == "broken.jpg"


def test_bad_paths_are_422_with_a_code(client: TestClient, tmp_path: Path) -> None:
    for path in ("relative/path", str(tmp_path / "missing")):
        response = client.post("/v1/datasets", json={"name": "x", "path": path})
        assert response.status_code == 422, path
        assert response.json()["code"] == "invalid_path"


@pytest.mark.parametrize("kind", ["nul", "loop", "long_name"])
def test_paths_the_system_cannot_resolve_are_422_json(
    client: TestClient, tmp_path: Path, kind: str
) -> None:
    """Each of these was an unhandled 500 with a plain-text body."""
    if kind == "nul":
        path = str(tmp_path / "a\0b")
    elif kind == "loop":
        os.symlink(tmp_path / "loop", tmp_path / "loop")
        path = str(tmp_path / "loop" / "x")
    else:
        path = str(tmp_path / ("n" * 300))
    response = client.post("/v1/datasets", json={"name": "x", "path": path})
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_path"


def test_a_folder_of_no_readable_image_ends_failed_with_the_reason(
    client: TestClient, tmp_path: Path
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "broken.png").write_bytes(b"not a png")
    body = register(client, tmp_path / "empty")
    assert body["state"] == "failed"
    assert "no readable image" in body["failure_reason"]


def test_a_dataset_that_is_not_ready_is_409_for_jobs_probes_and_embeddings(
    client: TestClient, image_folder: Path
) -> None:
    queued = client.post("/v1/datasets", json={"name": "d", "path": str(image_folder)}).json()
    job = {"method": "simclr", "dataset_id": queued["id"], "backbone": "tiny_cnn", "batch_size": 4}
    refused = client.post("/v1/jobs", json=job)
    assert (refused.status_code, refused.json()["code"]) == (409, "dataset_not_ready")
    assert refused.json()["details"]["state"] == "ingesting"
    assert ingested(client, queued["id"])["state"] == "ready"
    assert client.post("/v1/jobs", json=job).status_code == 201


def test_the_api_never_scans_a_folder(
    client: TestClient, image_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import ssl_engine.data.scan as scan

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("the API process walked a dataset folder")

    monkeypatch.setattr(scan, "scan_image_folder", refuse)
    monkeypatch.setattr(os, "scandir", refuse)
    response = client.post("/v1/datasets", json={"name": "d", "path": str(image_folder)})
    assert response.status_code == 202, response.text


def test_malformed_body_is_422_naming_the_field(client: TestClient, image_folder: Path) -> None:
    response = client.post("/v1/datasets", json={"name": "", "path": str(image_folder), "extra": 1})
    assert response.status_code == 422
    fields = {d["field"] for d in response.json()["details"]}
    assert {"name", "extra"} <= fields


def test_list_paginates_and_unknown_id_is_404(client: TestClient, image_folder: Path) -> None:
    for i in range(3):
        client.post("/v1/datasets", json={"name": f"d{i}", "path": str(image_folder)})
    page = client.get("/v1/datasets", params={"limit": 2, "offset": 1}).json()
    assert page["total"] == 3
    assert len(page["items"]) == 2
    assert client.get("/v1/datasets", params={"limit": 0}).status_code == 422
    response = client.get("/v1/datasets/unknown")
    assert response.status_code == 404
    assert response.json()["code"] == "dataset_not_found"


def test_another_tenants_ingesting_dataset_is_invisible(
    client: TestClient, settings: Settings, image_folder: Path
) -> None:
    other = bearer(create_key(settings, "team-b"))
    queued = client.post("/v1/datasets", json={"name": "d", "path": str(image_folder)}).json()
    assert client.get(f"/v1/datasets/{queued['id']}", headers=other).status_code == 404
