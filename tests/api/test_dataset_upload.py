"""POST /v1/datasets/upload: archives become tenant datasets; hostile ones leave nothing behind.

The route only stores the body and queues the ingest (202); ``tests.ingest`` runs the
ingest worker's code on the queued row, child process and limits included.
"""

from __future__ import annotations

import io
import tarfile
import zipfile
from collections.abc import Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.core.artifacts import tenant_dir
from api.core.settings import Settings
from tests.image_folders import image_bytes
from tests.ingest import ingested
from tests.keys import bearer, create_key

URL = "/v1/datasets/upload"
PNG = image_bytes(0, seed=1, fmt="PNG")
JPEG = image_bytes(1, seed=2, fmt="JPEG")
GOOD_MEMBERS = {
    "a/a0.png": PNG,
    "a/a1.jpg": JPEG,
    "b/b0.png": image_bytes(2, seed=3, fmt="PNG"),
    "b/b1.jpg": image_bytes(3, seed=4, fmt="JPEG"),
    "b/b2.png": image_bytes(2, seed=5, fmt="PNG"),
    "README.txt": b"class folders a/ and b/\n",
}
GOOD_IMAGES = {name for name in GOOD_MEMBERS if not name.endswith(".txt")}


# --- Building archives in memory --------------------------------------------------------


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name)  # no name sanitising: "../evil.png" stays as is
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return buffer.getvalue()


def tar_bytes(
    members: dict[str, bytes], *, links: dict[str, str] | None = None, mode: str = "w:gz"
) -> bytes:
    """A tar of regular files, after symlinks ``{name: target}`` (written first)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode=mode) as tar:  # type: ignore[call-overload]
        for name, target in (links or {}).items():
            info = tarfile.TarInfo(name)
            info.type = tarfile.SYMTYPE
            info.linkname = target
            tar.addfile(info)
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# Plain, bz2 and xz tars are covered by the extraction unit tests (test_upload_archive.py).
ARCHIVERS: dict[str, Callable[[dict[str, bytes]], bytes]] = {
    "zip": zip_bytes,
    "tar.gz": lambda members: tar_bytes(members, mode="w:gz"),
}


# --- Helpers ----------------------------------------------------------------------------


def upload(
    client: TestClient, body: bytes | Iterator[bytes], name: str = "up", **kwargs: Any
) -> Any:
    return client.post(URL, params={"name": name}, content=body, **kwargs)


def upload_and_ingest(
    client: TestClient, body: bytes | Iterator[bytes], name: str = "up", **kwargs: Any
) -> dict[str, Any]:
    """Upload (202, ``ingesting``), then run its ingest; the dataset as it ends."""
    queued = upload(client, body, name, **kwargs)
    assert queued.status_code == 202, queued.text
    assert queued.json()["state"] == "ingesting"
    return ingested(client, queued.json()["id"], **kwargs)


def assert_refused(dataset: dict[str, Any], code: str, member: str | None = None) -> None:
    assert dataset["state"] == "failed", dataset
    assert f"[{code}]" in dataset["failure_reason"], dataset["failure_reason"]
    if member is not None:
        assert f"(member {member!r})" in dataset["failure_reason"]
    assert dataset["image_count"] == 0


def entries(folder: Path) -> list[Path]:
    """Everything under ``folder`` (files and folders); nothing when it does not exist."""
    return sorted(folder.rglob("*")) if folder.exists() else []


def extracted_files(folder: Path) -> set[str]:
    return {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()}


def assert_nothing_left(
    client: TestClient, settings: Settings, tmp_path: Path, tenant: str = "local"
) -> None:
    """No usable dataset (at most failed rows), nothing in the tenant's datasets/ and
    incoming/, no evil.png anywhere."""
    listed = client.get("/v1/datasets")
    assert listed.status_code == 200
    assert {d["state"] for d in listed.json()["items"]} <= {"failed"}
    folder = tenant_dir(settings, tenant)
    assert entries(folder / "datasets") == []
    assert entries(folder / "incoming") == []
    assert list(tmp_path.rglob("evil.png")) == []
    assert not Path("/evil.png").exists()
    assert not (tmp_path.parent / "evil.png").exists()


# --- Good archives ----------------------------------------------------------------------


@pytest.mark.parametrize("fmt", list(ARCHIVERS))
def test_good_archive_becomes_a_dataset_of_the_tenant(
    client: TestClient, settings: Settings, fmt: str
) -> None:
    content_type = "application/zip" if fmt == "zip" else "application/octet-stream"
    body = upload_and_ingest(
        client,
        ARCHIVERS[fmt](GOOD_MEMBERS),
        name=f"uploaded {fmt}",
        headers={"content-type": content_type},
    )
    assert body["state"] == "ready", body
    datasets_dir = settings.artifacts_dir / "tenants" / "local" / "datasets"
    path = Path(body["path"])
    assert path.parent == datasets_dir
    assert path.name == body["id"]
    assert body["name"] == f"uploaded {fmt}"
    assert body["image_count"] == 5
    assert body["labeled"] is True
    assert body["classes"] == ["a", "b"]
    assert body["class_counts"] == {"a": 2, "b": 3}
    assert body["unreadable_count"] == 0 and body["unreadable"] == []
    assert extracted_files(path) == GOOD_IMAGES  # README.txt not extracted
    assert (path / "a" / "a0.png").read_bytes() == PNG

    fetched = client.get(f"/v1/datasets/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body
    listed = client.get("/v1/datasets").json()
    assert listed["total"] == 1 and listed["items"][0]["id"] == body["id"]
    assert entries(tenant_dir(settings, "local") / "incoming") == []


def test_two_uploads_of_the_same_archive_are_two_datasets(
    client: TestClient, settings: Settings
) -> None:
    archive = zip_bytes(GOOD_MEMBERS)
    first, second = upload_and_ingest(client, archive), upload_and_ingest(client, archive)
    assert first["id"] != second["id"] and first["path"] != second["path"]
    assert extracted_files(Path(first["path"])) == extracted_files(Path(second["path"]))
    assert client.get("/v1/datasets").json()["total"] == 2


# --- Hostile archives through the route ------------------------------------------------


@dataclass(frozen=True)
class Hostile:
    """An archive that must be refused (413 by the route, the others by the ingest);
    ``build`` gets tmp_path (for absolute names)."""

    build: Callable[[Path], bytes]
    status: int
    code: str
    member: str | None = None  # details.member, when the archive names a culprit
    settings: dict[str, Any] = field(default_factory=dict)


HOSTILE = {
    "zip_slip": Hostile(
        lambda _: zip_bytes({"a/ok.png": PNG, "../evil.png": PNG}),
        400,
        "archive_traversal",
        "../evil.png",
    ),
    "zip_backslash_slip": Hostile(
        lambda _: zip_bytes({"a/ok.png": PNG, "a\\..\\..\\evil.png": PNG}),
        400,
        "archive_traversal",
        "a\\..\\..\\evil.png",
    ),
    "tar_traversal": Hostile(
        lambda _: tar_bytes({"a/ok.png": PNG, "a/../../evil.png": PNG}),
        400,
        "archive_traversal",
        "a/../../evil.png",
    ),
    "tar_absolute": Hostile(
        lambda tmp: tar_bytes({"a/ok.png": PNG, f"{tmp}/evil.png": PNG}),
        400,
        "archive_absolute_path",
    ),
    "zip_absolute": Hostile(
        lambda tmp: zip_bytes({"a/ok.png": PNG, f"{tmp}/evil.png": PNG}),
        400,
        "archive_absolute_path",
    ),
    "tar_symlink_then_write_through_it": Hostile(
        lambda tmp: tar_bytes({"a/ok.png": PNG, "a/out/evil.png": PNG}, links={"a/out": str(tmp)}),
        400,
        "archive_link",
        "a/out",
    ),
    "tar_symlink_to_a_file": Hostile(
        lambda tmp: tar_bytes({"a/ok.png": PNG}, links={"a/evil.png": f"{tmp}/evil.png"}),
        400,
        "archive_link",
        "a/evil.png",
    ),
    "zip_bomb_by_ratio": Hostile(
        lambda _: zip_bytes({"a/ok.png": PNG, "a/bomb.png": bytes(256 << 10)}),
        400,
        "archive_ratio",
        "a/bomb.png",
        {"max_archive_ratio": 4.0},
    ),
    "too_many_members": Hostile(
        lambda _: zip_bytes({f"a/{i}.png": PNG for i in range(5)}),
        400,
        "archive_too_many_members",
        None,  # refused from the zip's directory record, before any member is read
        {"max_archive_members": 3},
    ),
    "member_too_large": Hostile(
        lambda _: zip_bytes({"a/ok.png": PNG, "a/big.png": bytes(8 << 10)}),
        400,
        "archive_member_too_large",
        "a/big.png",
        {"max_archive_member_bytes": 4 << 10},
    ),
    "oversize_archive": Hostile(
        lambda _: zip_bytes({f"a/{i}.png": image_bytes(0, seed=i) for i in range(4)}),
        413,
        "payload_too_large",
        None,
        {"max_archive_bytes": 1024},
    ),
}


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_archive_is_refused_and_leaves_nothing(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path, case: str
) -> None:
    hostile = HOSTILE[case]
    body = hostile.build(tmp_path)
    with serve(**hostile.settings) as client:
        if hostile.status == 413:  # refused while streaming: no row at all
            response = upload(client, body)
            assert response.status_code == 413, response.text
            assert response.json()["code"] == hostile.code
            assert client.get("/v1/datasets").json()["total"] == 0
        else:
            assert_refused(upload_and_ingest(client, body), hostile.code, hostile.member)
        assert_nothing_left(client, settings, tmp_path)


def chunks(data: bytes, size: int = 512) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def test_oversize_chunked_body_without_content_length_is_413(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    archive = zip_bytes({f"a/{i}.png": image_bytes(0, seed=i) for i in range(4)})
    assert len(archive) > 4 * 1024
    sent = 0

    def body() -> Iterator[bytes]:
        nonlocal sent
        for chunk in chunks(archive):
            sent += len(chunk)
            yield chunk

    with serve(max_archive_bytes=1024) as client:
        # httpx sends an iterator as Transfer-Encoding: chunked, with no Content-Length.
        response = upload(client, body())
        assert response.status_code == 413, response.text
        assert response.json()["code"] == "payload_too_large"
        assert_nothing_left(client, settings, tmp_path)


def test_streamed_body_is_cut_off_as_soon_as_it_passes_the_limit(
    serve: Callable[..., TestClient], settings: Settings, api_key: str, tmp_path: Path
) -> None:
    """Straight through ASGI, chunk by chunk (TestClient joins a body into one message):
    the 413 comes after the chunk that passes the limit, the rest is never read."""
    pieces = list(chunks(zip_bytes({f"a/{i}.png": image_bytes(0, seed=i) for i in range(8)})))
    assert len(pieces) > 10
    read = 0
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal read
        if read == len(pieces):
            return {"type": "http.disconnect"}
        read += 1
        return {"type": "http.request", "body": pieces[read - 1], "more_body": read < len(pieces)}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": URL,
        "raw_path": URL.encode(),
        "root_path": "",
        "query_string": b"name=streamed",
        "headers": [
            (b"host", b"testserver"),
            (b"authorization", f"Bearer {api_key}".encode()),
            (b"transfer-encoding", b"chunked"),
        ],
        "client": ("testclient", 50000),
        "server": ("testserver", 80),
    }
    with serve(max_archive_bytes=1024) as client:
        app = client.app

        async def request() -> None:
            await app(scope, receive, send)

        assert client.portal is not None
        client.portal.call(request)
        assert sent[0]["status"] == 413
        assert read == 1024 // 512 + 1  # the chunk that went past 1024 bytes, no more
        assert_nothing_left(client, settings, tmp_path)


def test_chunked_body_within_the_limit_is_accepted(
    serve: Callable[..., TestClient], settings: Settings
) -> None:
    archive = zip_bytes(GOOD_MEMBERS)
    with serve(max_archive_bytes=len(archive)) as client:
        dataset = upload_and_ingest(client, chunks(archive))
    assert dataset["image_count"] == 5


def test_lying_content_length_does_not_lift_the_limit(
    serve: Callable[..., TestClient], settings: Settings, tmp_path: Path
) -> None:
    """A Content-Length under the limit, then a longer chunked stream: still a 413."""
    archive = zip_bytes({f"a/{i}.png": image_bytes(0, seed=i) for i in range(4)})
    with serve(max_archive_bytes=1024) as client:
        response = upload(client, chunks(archive), headers={"content-length": "100"})
        assert response.status_code == 413, response.text
        assert_nothing_left(client, settings, tmp_path)


# --- Not archives, no images ------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [PNG, b"hello, not an archive", b"", b"PK\x01\x02 central directory first"],
    ids=["png", "text", "empty", "zip_like"],
)
def test_body_that_is_not_an_archive_ends_failed(
    client: TestClient, settings: Settings, tmp_path: Path, body: bytes
) -> None:
    assert_refused(upload_and_ingest(client, body), "invalid_archive")
    assert_nothing_left(client, settings, tmp_path)


@pytest.mark.parametrize("fmt", ["zip", "tar.gz"])
def test_archive_without_images_is_empty_dataset(
    client: TestClient, settings: Settings, tmp_path: Path, fmt: str
) -> None:
    members = {"README.txt": b"nothing here", "data/x.csv": b"1,2\n", ".hidden.png": PNG}
    dataset = upload_and_ingest(client, ARCHIVERS[fmt](members))
    assert dataset["state"] == "failed"
    assert dataset["failure_reason"].startswith("no readable image")
    assert_nothing_left(client, settings, tmp_path)


def test_archive_of_only_broken_images_is_empty_dataset_naming_them(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    members = {"a/cut.png": PNG[: len(PNG) // 2], "a/text.jpg": b"not a jpeg"}
    dataset = upload_and_ingest(client, zip_bytes(members))
    assert dataset["state"] == "failed"
    assert "2 unreadable: " in dataset["failure_reason"]
    assert all(f"{name}: " in dataset["failure_reason"] for name in members)
    assert_nothing_left(client, settings, tmp_path)


# --- Tenants ----------------------------------------------------------------------------


def test_other_tenant_neither_sees_the_upload_nor_shares_its_folder(
    client: TestClient, settings: Settings
) -> None:
    mine_id = upload_and_ingest(client, zip_bytes(GOOD_MEMBERS), name="mine")["id"]
    team_b = bearer(create_key(settings, "team-b"))

    seen = client.get(f"/v1/datasets/{mine_id}", headers=team_b)
    assert seen.status_code == 404
    assert seen.json()["code"] == "dataset_not_found"
    assert client.get("/v1/datasets", headers=team_b).json()["total"] == 0

    theirs = upload_and_ingest(client, tar_bytes(GOOD_MEMBERS), name="theirs", headers=team_b)
    theirs_path = Path(theirs["path"])
    assert theirs_path.parent == settings.artifacts_dir / "tenants" / "team-b" / "datasets"
    assert extracted_files(theirs_path) == GOOD_IMAGES
    assert entries(tenant_dir(settings, "team-b") / "incoming") == []

    # Each tenant lists only its own; the local tenant cannot read team-b's either.
    assert [d["id"] for d in client.get("/v1/datasets").json()["items"]] == [mine_id]
    listed_b = client.get("/v1/datasets", headers=team_b).json()
    assert [d["name"] for d in listed_b["items"]] == ["theirs"]
    assert client.get(f"/v1/datasets/{theirs['id']}").status_code == 404


# --- Request validation -----------------------------------------------------------------


def test_missing_or_empty_name_is_422(client: TestClient, settings: Settings) -> None:
    archive = zip_bytes(GOOD_MEMBERS)
    missing = client.post(URL, content=archive)
    assert missing.status_code == 422, missing.text
    assert missing.json()["code"] == "validation_error"
    assert "name" in missing.text
    empty = client.post(URL, params={"name": ""}, content=archive)
    assert empty.status_code == 422, empty.text
    assert entries(tenant_dir(settings, "local") / "datasets") == []


def test_upload_without_or_with_a_wrong_key_is_401(
    settings: Settings, client: TestClient, tmp_path: Path
) -> None:
    archive = zip_bytes(GOOD_MEMBERS)
    no_key = TestClient(client.app).post(URL, params={"name": "x"}, content=archive)
    assert no_key.status_code == 401, no_key.text
    assert "www-authenticate" in no_key.headers
    wrong = upload(client, archive, headers=bearer("sslpt_not_a_real_key"))
    assert wrong.status_code == 401, wrong.text
    assert_nothing_left(client, settings, tmp_path)


def test_registering_a_folder_that_contains_the_data_dir_does_not_expose_uploads(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    # The fixture's layout: dataset_roots=[tmp_path], data_dir=tmp_path / "data".
    assert upload_and_ingest(client, zip_bytes(GOOD_MEMBERS))["state"] == "ready"
    team_b = bearer(create_key(settings, "team-b"))
    response = client.post(
        "/v1/datasets", json={"name": "everything", "path": str(tmp_path)}, headers=team_b
    )
    assert response.status_code == 403, response.text
    assert response.json()["code"] == "path_not_allowed"
