"""Operation ids are ``{tag}-{function}`` and unique; uploads accept octet-stream bodies."""

from __future__ import annotations

import io
import re
import zipfile

from fastapi.testclient import TestClient

from api.main import UNTAGGED
from tests.image_folders import image_bytes
from tests.ingest import ingested

OPERATION_ID = re.compile(r"^[a-z][a-z0-9_]*-[a-z_][a-z0-9_]*$")


def operations(client: TestClient) -> list[tuple[str, str, dict]]:
    document = client.app.openapi()  # type: ignore[attr-defined]
    return [
        (method, path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_operation_ids_are_tag_dash_function_name_and_unique(client: TestClient) -> None:
    ids = []
    for method, path, operation in operations(client):
        operation_id = operation["operationId"]
        assert OPERATION_ID.match(operation_id), (method, path, operation_id)
        tag = (operation.get("tags") or [UNTAGGED])[0]
        assert operation_id.startswith(f"{tag}-"), (method, path, operation_id)
        ids.append(operation_id)
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    assert "jobs-submit_job" in ids
    assert "datasets-upload_dataset" in ids


def test_upload_declares_and_accepts_octet_stream(client: TestClient) -> None:
    upload = client.app.openapi()["paths"]["/v1/datasets/upload"]["post"]  # type: ignore[attr-defined]
    assert "application/octet-stream" in upload["requestBody"]["content"]

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(3):
            archive.writestr(f"img_{index}.png", image_bytes(0, seed=index))
    answer = client.post(
        "/v1/datasets/upload",
        params={"name": "octets"},
        content=buffer.getvalue(),
        headers={"content-type": "application/octet-stream"},
    )
    assert answer.status_code == 202, answer.text
    assert ingested(client, answer.json()["id"])["image_count"] == 3
