"""Body size limits (413 while streaming), JSON depth (400) and allowed dataset roots."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.request_limits import json_depth
from tests.ingest import register
from tests.serving.random_models import register_random_model


def test_json_depth_counts_nesting_but_not_brackets_inside_strings() -> None:
    assert json_depth('{"a": 1}') == 1
    assert json_depth('[[{"a": [1]}]]') == 4
    assert json_depth('{"a": "[[[[{{{{ \\" [[["}') == 1
    assert json_depth("3") == 0


def test_a_body_over_the_limit_is_413_with_or_without_content_length(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    with serve(max_request_bytes=2048) as client:
        big = {"name": "x" * 4000, "path": "/tmp"}
        declared = client.post("/v1/datasets", json=big)
        assert (declared.status_code, declared.json()["code"]) == (413, "payload_too_large")

        def chunks() -> Iterator[bytes]:
            yield b'{"name": "'
            for _ in range(8):
                yield b"x" * 512
            yield b'", "path": "/tmp"}'

        streamed = client.post(
            "/v1/datasets", content=chunks(), headers={"Content-Type": "application/json"}
        )
        assert streamed.status_code == 413
        assert client.get("/v1/datasets").json()["total"] == 0

    model = register_random_model(settings.resolved_database_url, tmp_path / "model")
    with serve(max_upload_bytes=2048) as client:  # a streamed route with its own limit
        answer = client.post(
            f"/v1/models/{model}/energy",
            content=chunks(),
            headers={"Content-Type": "application/json"},
        )
        assert answer.status_code == 413, answer.text  # not FastAPI's 400 for a failed read


def test_deeply_nested_json_is_a_400_before_any_parser_recurses(client: TestClient) -> None:
    body = '{"method": "simclr", "dataset_id": "x", "hyperparameters": ' + "[" * 5000
    body += "]" * 5000 + "}"
    response = client.post("/v1/jobs", content=body, headers={"Content-Type": "application/json"})
    assert (response.status_code, response.json()["code"]) == (400, "json_too_deep")
    shallow = {"method": "simclr", "dataset_id": "x", "hyperparameters": {"a": [[1]]}}
    assert client.post("/v1/jobs", content=json.dumps(shallow)).status_code == 422


def test_only_folders_under_an_allowed_root_can_be_registered(
    client: TestClient, settings: Settings, tmp_path: Path, image_folder: Path
) -> None:
    def register(path: str) -> tuple[int, str]:
        answer = client.post("/v1/datasets", json={"name": "d", "path": path})
        return answer.status_code, answer.json().get("code", "")

    outside = Path(os.path.realpath("/etc"))
    assert register(str(outside)) == (403, "path_not_allowed")
    assert register(str(tmp_path / ".." / ".." / "etc")) == (403, "path_not_allowed")
    link = tmp_path / "link-out"
    link.symlink_to(outside)
    assert register(str(link)) == (403, "path_not_allowed")  # resolved before the check
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    assert register(str(settings.data_dir)) == (403, "path_not_allowed")
    assert register(str(tmp_path)) == (403, "path_not_allowed")  # it holds the data dir
    assert register("relative/path") == (422, "invalid_path")
    assert register(str(tmp_path / "missing")) == (422, "invalid_path")
    assert register(str(image_folder))[0] == 202


def test_a_file_link_leading_out_of_the_dataset_is_not_scanned(
    client: TestClient, tmp_path: Path, image_folder: Path
) -> None:
    inside = sorted(image_folder.rglob("*.png"))
    secret = tmp_path / "secret.png"
    inside[0].rename(secret)
    inside[0].symlink_to(secret)

    def registered() -> dict[str, object]:
        return register(client, image_folder)

    assert registered()["image_count"] == 31  # the link out is not a file of the dataset
    (inside[1].parent / "again.png").symlink_to(inside[1])
    assert registered()["image_count"] == 32  # a link to a file inside it is


def test_a_405_lists_every_method_of_the_path(client: TestClient) -> None:
    answer = client.request("DELETE", "/v1/datasets")
    assert answer.status_code == 405
    assert answer.headers["allow"] == "GET, POST"
    assert answer.json()["code"] == "method_not_allowed"
