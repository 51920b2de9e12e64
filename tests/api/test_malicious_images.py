"""Hostile image files: bombs, truncated files and disguised formats, sent to the embed route,
registered as a folder and uploaded as an archive. They are refused or listed unreadable;
the process keeps serving."""

from __future__ import annotations

import base64
import functools
import io
import struct
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from api.core.artifacts import tenant_dir
from api.core.settings import Settings
from ssl_engine.data.formats import MAX_PIXELS
from tests.engine.data.image_files import png_header_only, write_truncated
from tests.image_folders import image_bytes, make_image_folder, zip_folder
from tests.ingest import register, upload
from tests.serving.random_models import register_random_model

GOOD_PNG = image_bytes(0, seed=1, fmt="PNG")


# --- Hostile files ----------------------------------------------------------------------


@functools.cache
def png_bomb(width: int, height: int) -> bytes:
    """A valid 1-bit grayscale PNG of ``width x height`` black pixels: a few KB that decode to
    ``width * height`` pixels (3 bytes each once converted to RGB)."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body)
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte 0, then the packed bits
    compressor = zlib.compressobj(9)
    blocks, rest = divmod(height, 500)
    idat = b"".join(compressor.compress(row * 500) for _ in range(blocks))
    idat += compressor.compress(row * rest) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # 1 bit, grayscale
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def truncated_jpeg(tmp_path: Path) -> bytes:
    return write_truncated(tmp_path / "hostile" / "cut.jpg").read_bytes()


def other_format(fmt: str) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (200, 30, 30)).save(buffer, format=fmt)
    return buffer.getvalue()


# name -> (file name sent, bytes); a callable gets tmp_path
HOSTILE: dict[str, Callable[[Path], tuple[str, bytes]]] = {
    # 20000^2 = 4e8 pixels: past twice Pillow's MAX_IMAGE_PIXELS, Pillow raises on open.
    "png_bomb_20000": lambda _: ("bomb.png", png_bomb(20_000, 20_000)),
    # 7000^2 = 4.9e7 pixels: under Pillow's threshold, over ours (MAX_PIXELS).
    "png_bomb_7000": lambda _: ("bomb.png", png_bomb(7_000, 7_000)),
    # The engine tests' maker: a huge IHDR with almost no data behind it.
    "png_header_only": lambda _: ("bomb.png", png_header_only(100_000, 100_000)),
    "truncated_jpeg": lambda tmp: ("cut.jpg", truncated_jpeg(tmp)),
}


def test_the_bombs_are_small_files_of_many_pixels() -> None:
    for side in (20_000, 7_000):
        data = png_bomb(side, side)
        assert len(data) < 64 * 1024
        width, height = struct.unpack(">II", data[16:24])  # IHDR, read without Pillow
        assert (width, height) == (side, side)
    assert 7_000 * 7_000 > MAX_PIXELS > 6_000 * 6_000
    small = png_bomb(40, 24)  # the same maker, decodable: the bombs are valid PNGs
    with Image.open(io.BytesIO(small)) as image:
        image.load()
        assert image.size == (40, 24) and image.mode == "1"


# --- The embed route --------------------------------------------------------------------


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path) -> str:
    return register_random_model(settings.resolved_database_url, tmp_path / "model")


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def assert_invalid_image(response: Any, name: str) -> None:
    assert response.status_code == 422, response.text
    error = response.json()
    assert error["code"] == "invalid_image", error
    assert error["message"].startswith(f"{name}: "), error
    assert error["details"] == {"file": name}


def assert_still_serving(client: TestClient, url: str) -> None:
    ok = client.post(url, files=[("files", ("ok.png", GOOD_PNG, "image/png"))])
    assert ok.status_code == 200, ok.text
    assert len(ok.json()["embeddings"]) == 1


@pytest.mark.parametrize("case", list(HOSTILE))
def test_hostile_image_sent_to_embed_is_422_naming_it(
    client: TestClient, model_id: str, tmp_path: Path, case: str
) -> None:
    name, data = HOSTILE[case](tmp_path)
    url = f"/v1/models/{model_id}/embed"

    alone = client.post(url, files=[("files", (name, data, "image/png"))])
    assert_invalid_image(alone, name)
    assert_still_serving(client, url)

    # After a good file in the same request: the bad one is named, not the first.
    files = [("files", ("ok.png", GOOD_PNG, "image/png")), ("files", (name, data, "image/png"))]
    assert_invalid_image(client.post(url, files=files), name)
    assert_still_serving(client, url)

    as_json = client.post(url, json={"images": [b64(GOOD_PNG), b64(data)]})
    assert_invalid_image(as_json, "images[1]")
    assert_still_serving(client, url)


# --- Datasets: a registered folder and the same folder uploaded -------------------------


def hostile_folder(root: Path) -> Path:
    """Two classes of three good images, plus a bomb PNG and a truncated JPEG."""
    make_image_folder(root, per_class=3, classes=2)  # red/, green/
    (root / "red" / "bomb.png").write_bytes(png_bomb(20_000, 20_000))
    write_truncated(root / "green" / "cut.jpg")
    return root


def assert_bad_files_listed(dataset: dict[str, Any]) -> None:
    assert dataset["image_count"] == 6
    assert dataset["classes"] == ["green", "red"]
    assert dataset["class_counts"] == {"green": 3, "red": 3}
    assert dataset["unreadable_count"] == 2
    reasons = {u["path"]: u["reason"] for u in dataset["unreadable"]}
    assert set(reasons) == {"red/bomb.png", "green/cut.jpg"}
    assert "decompression bomb" in reasons["red/bomb.png"]
    assert "truncated" in reasons["green/cut.jpg"].lower()


def test_registered_folder_lists_the_bomb_and_the_truncated_jpeg_as_unreadable(
    client: TestClient, tmp_path: Path
) -> None:
    root = hostile_folder(tmp_path / "mixed")
    assert_bad_files_listed(register(client, root, "mixed"))


def test_uploaded_zip_of_that_folder_gives_the_same_dataset(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    root = hostile_folder(tmp_path / "mixed")
    registered = register(client, root, "mixed")
    uploaded = upload(client, zip_folder(root), "mixed")
    assert_bad_files_listed(uploaded)
    assert Path(uploaded["path"]).is_relative_to(tenant_dir(settings, "local") / "datasets")
    same = ("image_count", "classes", "class_counts", "unreadable", "size_stats", "total_bytes")
    assert {k: uploaded[k] for k in same} == {k: registered[k] for k in same}


# --- Files whose extension lies about their format --------------------------------------

# Pillow opens by content, not by name: only the JPEG/PNG/WebP/BMP decoders may run, so
# another format named .png or .jpg is refused.
DISGUISED = [
    pytest.param("gif.png", lambda: other_format("GIF"), id="gif_as_png"),
    pytest.param("tiff.png", lambda: other_format("TIFF"), id="tiff_as_png"),
    pytest.param("pdf.jpg", lambda: other_format("PDF"), id="pdf_as_jpg"),
    pytest.param("text.jpg", lambda: b"%PDF-1.4 not really\n", id="text_as_jpg"),
]


@pytest.mark.parametrize(("name", "make"), DISGUISED)
def test_disguised_format_sent_to_embed_is_422(
    client: TestClient, model_id: str, name: str, make: Callable[[], bytes]
) -> None:
    url = f"/v1/models/{model_id}/embed"
    response = client.post(url, files=[("files", (name, make(), "image/png"))])
    assert_invalid_image(response, name)
    assert_still_serving(client, url)


@pytest.mark.parametrize(("name", "make"), DISGUISED)
def test_disguised_format_in_a_folder_is_unreadable(
    client: TestClient, tmp_path: Path, name: str, make: Callable[[], bytes]
) -> None:
    root = make_image_folder(tmp_path / "disguised", per_class=2, classes=1, labeled=False)
    (root / name).write_bytes(make())
    dataset = register(client, root)
    assert dataset["image_count"] == 2
    assert [u["path"] for u in dataset["unreadable"]] == [name]
