from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from tests.image_folders import make_image_folder


def test_register_labeled_folder_records_classes_and_counts(
    client: TestClient, image_folder: Path
) -> None:
    response = client.post("/v1/datasets", json={"name": "shapes", "path": str(image_folder)})
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["image_count"] == 32
    assert body["labeled"] is True
    assert body["classes"] == ["blue", "green", "red", "yellow"]
    assert body["class_counts"] == {"blue": 8, "green": 8, "red": 8, "yellow": 8}
    assert body["unreadable_count"] == 0
    assert body["size_stats"]["width"]["max"] == 24
    fetched = client.get(f"/v1/datasets/{body['id']}").json()
    assert fetched == body


def test_unlabeled_folder_and_unreadable_files_are_reported(
    client: TestClient, tmp_path: Path
) -> None:
    root = make_image_folder(tmp_path / "flat", per_class=3, labeled=False)
    (root / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    (root / "notes.txt").write_text("ignored: not an image extension")
    body = client.post("/v1/datasets", json={"name": "flat", "path": str(root)}).json()
    assert body["labeled"] is False
    assert body["image_count"] == 12
    assert body["unreadable_count"] == 1
    assert body["unreadable"][0]["path"] == "broken.jpg"


def test_bad_paths_are_422_with_a_code(client: TestClient, tmp_path: Path) -> None:
    cases = {
        "relative/path": "invalid_path",
        str(tmp_path / "missing"): "invalid_path",
    }
    (tmp_path / "empty").mkdir()
    cases[str(tmp_path / "empty")] = "empty_dataset"
    for path, code in cases.items():
        response = client.post("/v1/datasets", json={"name": "x", "path": path})
        assert response.status_code == 422, path
        assert response.json()["code"] == code


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
