"""The embed route under concurrency: merged batches, overload, encodings, inputs, limits."""

from __future__ import annotations

import base64
import math
import os
import socket
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from api.core.settings import Settings
from api.serving.model_cache import LoadedModel
from ssl_engine.data.formats import decode_image_bytes
from ssl_engine.inference import embed_images
from tests.image_folders import image_bytes
from tests.ingest import register
from tests.keys import bearer, create_key
from tests.serving.random_models import register_random_model


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path) -> str:
    return register_random_model(settings.resolved_database_url, tmp_path / "model")


def loaded_model(client: TestClient, model_id: str) -> LoadedModel:
    assert client.post(f"/v1/models/{model_id}/warmup").status_code == 200
    loaded = client.app.state.model_cache.peek(model_id)  # type: ignore[attr-defined]
    assert loaded is not None
    return loaded


def wait_until(condition: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.01)


def batch_size_samples(client: TestClient, model_id: str) -> dict[str, float]:
    """sum and count of sslpt_embed_batch_size for the model, read from GET /metrics."""
    found = {}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.labels.get("model") == model_id and sample.name in (
                "sslpt_embed_batch_size_sum",
                "sslpt_embed_batch_size_count",
            ):
                found[sample.name.rsplit("_", 1)[1]] = sample.value
    return found


def unbatched(loaded: LoadedModel, png: bytes) -> torch.Tensor:
    image = decode_image_bytes(png, loaded.spec.recipe.input_size)[None]  # (1, 3, S, S)
    return embed_images(loaded.module, image, normalize=False)[0]  # (D,)


@pytest.fixture
def busy_device() -> Iterator[Callable[[LoadedModel], None]]:
    """Hold a model's forward lock (as a long batch would) until the test releases it."""
    held: list[LoadedModel] = []

    def hold(loaded: LoadedModel) -> None:
        loaded.lock.acquire()
        held.append(loaded)

    yield hold
    for loaded in held:
        if loaded.lock.locked():
            loaded.lock.release()


def test_concurrent_requests_are_merged_and_each_caller_gets_its_own_vectors(
    serve: Callable[..., TestClient],
    settings: Settings,
    model_id: str,
    busy_device: Callable[[LoadedModel], None],
) -> None:
    pngs = [image_bytes(i % 4, seed=i) for i in range(8)]
    url = f"/v1/models/{model_id}/embed"
    # float32 serving, so that a merged batch must give exactly the unbatched vectors
    with serve(embed_max_batch=16, embed_max_wait_ms=0, serving_precision="fp32") as client:
        loaded = loaded_model(client, model_id)
        before = batch_size_samples(client, model_id)
        busy_device(loaded)
        with ThreadPoolExecutor(len(pngs)) as pool:
            futures = [
                pool.submit(client.post, url, files=[("files", ("x.png", png, "image/png"))])
                for png in pngs
            ]
            wait_until(lambda: loaded.batcher.in_flight == 8 and loaded.batcher.decoding == 0)
            loaded.lock.release()
            responses = [f.result() for f in futures]
        after = batch_size_samples(client, model_id)

    assert all(r.status_code == 200 for r in responses), [r.text for r in responses]
    assert after["sum"] - before["sum"] == 8  # every image went through a device batch
    assert after["count"] - before["count"] <= 2  # the first batch, then all the others
    for png, response in zip(pngs, responses, strict=True):
        vector = torch.tensor(response.json()["embeddings"][0])
        torch.testing.assert_close(vector, unbatched(loaded, png), atol=1e-5, rtol=1e-4)


def test_requests_beyond_the_queue_bound_get_429_and_the_admitted_ones_complete(
    serve: Callable[..., TestClient],
    settings: Settings,
    model_id: str,
    busy_device: Callable[[LoadedModel], None],
) -> None:
    body = {"images": [b64(image_bytes())]}
    url = f"/v1/models/{model_id}/embed"
    with serve(embed_max_queue=2) as client:
        loaded = loaded_model(client, model_id)
        busy_device(loaded)
        with ThreadPoolExecutor(2) as pool:
            admitted = [pool.submit(client.post, url, json=body) for _ in range(2)]
            wait_until(lambda: loaded.batcher.in_flight == 2)
            rejected = client.post(url, json=body)
            loaded.lock.release()
            assert [f.result().status_code for f in admitted] == [200, 200]
        assert client.post(url, json=body).status_code == 200  # room again
        metrics = client.get("/metrics").text

    assert rejected.status_code == 429
    assert rejected.json()["code"] == "overloaded"
    assert rejected.headers["retry-after"] == "1"
    assert f'sslpt_embed_requests_total{{model="{model_id}",outcome="rejected"}} 1.0' in metrics


def test_base64_output_is_the_float32_vector_and_normalize_gives_unit_length(
    client: TestClient, model_id: str
) -> None:
    url = f"/v1/models/{model_id}/embed"
    image = b64(image_bytes(1, seed=3))
    floats = client.post(url, json={"images": [image]}).json()
    packed = client.post(url, json={"images": [image], "encoding_format": "base64"}).json()
    assert packed["encoding_format"] == "base64" and packed["dim"] == floats["dim"] == 64
    decoded = np.frombuffer(base64.b64decode(packed["embeddings"][0]), dtype="<f4")
    np.testing.assert_array_equal(decoded, np.float32(floats["embeddings"][0]))
    unit = client.post(url, json={"images": [image], "normalize": True}).json()["embeddings"][0]
    assert math.isclose(sum(v * v for v in unit), 1.0, rel_tol=1e-4)


def test_multipart_takes_the_same_options(client: TestClient, model_id: str) -> None:
    url = f"/v1/models/{model_id}/embed"
    files = [("files", ("a.png", image_bytes(), "image/png"))]
    packed = client.post(url, files=files, data={"encoding_format": "base64"})
    assert packed.status_code == 200 and packed.json()["encoding_format"] == "base64"
    wrong = client.post(url, files=files, data={"encoding_format": "hex"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "validation_error"


def test_dataset_items_embed_like_the_uploaded_files(
    client: TestClient, model_id: str, image_folder: Path
) -> None:
    dataset = register(client, image_folder, "imgs")
    url = f"/v1/models/{model_id}/embed"
    paths = ["red/red_000.jpg", "blue/blue_001.png"]
    by_reference = client.post(
        url, json={"dataset_items": {"dataset_id": dataset["id"], "paths": paths}}
    )
    assert by_reference.status_code == 200, by_reference.text
    uploads = [("files", (p, (image_folder / p).read_bytes(), "image/png")) for p in paths]
    assert by_reference.json()["embeddings"] == client.post(url, files=uploads).json()["embeddings"]


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("../outside.png", 422, "invalid_item"),
        ("red/notes.txt", 422, "invalid_item"),
        ("red/missing.png", 404, "item_not_found"),
    ],
)
def test_dataset_items_stay_inside_the_dataset_folder(
    client: TestClient, model_id: str, image_folder: Path, path: str, status: int, code: str
) -> None:
    (image_folder.parent / "outside.png").write_bytes(image_bytes())
    dataset = register(client, image_folder, "imgs")
    body = {"dataset_items": {"dataset_id": dataset["id"], "paths": [path]}}
    response = client.post(f"/v1/models/{model_id}/embed", json=body)
    assert response.status_code == status, response.text
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("red/fifo.png", "is not a regular file"),  # reading it would wait for a writer
        ("red/sock.png", "cannot be read"),  # a socket cannot be opened as a file (ENXIO)
        ("loop/x.png", "cannot be resolved"),  # a symlink loop
        ("a\x00b.png", "contains a NUL byte"),
        ("x" * 300 + ".png", "cannot be read"),  # a name over 255 bytes
    ],
)
def test_dataset_items_that_are_not_regular_files_are_refused_at_once(
    client: TestClient, model_id: str, image_folder: Path, path: str, why: str
) -> None:
    dataset = register(client, image_folder, "imgs")  # scanned first: the ingest skips them
    os.mkfifo(image_folder / "red" / "fifo.png")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(image_folder / "red" / "sock.png"))
        (image_folder / "loop").symlink_to(image_folder / "loop")
        body = {"dataset_items": {"dataset_id": dataset["id"], "paths": [path]}}
        response = client.post(f"/v1/models/{model_id}/embed", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_item" and why in response.json()["message"]
    assert len(response.json()["details"]["path"]) <= 200  # a long name is not echoed whole


def test_requests_over_the_pixel_limit_are_413_before_decoding(
    serve: Callable[..., TestClient], model_id: str
) -> None:
    url = f"/v1/models/{model_id}/embed"
    small = image_bytes(size=32)  # 1,024 pixels
    with serve(max_request_pixels=3000) as client:
        two = client.post(url, json={"images": [b64(small)] * 2})
        assert two.status_code == 200, two.text
        three = client.post(url, json={"images": [b64(small)] * 3})  # 3,072 pixels in all
        assert three.status_code == 413 and three.json()["code"] == "too_many_pixels"
        big = client.post(url, files=[("files", ("big.png", image_bytes(size=64), "image/png"))])
        assert big.status_code == 413 and big.json()["code"] == "too_many_pixels"


def test_a_chunked_body_over_the_byte_limit_is_413(
    serve: Callable[..., TestClient], settings: Settings, model_id: str
) -> None:
    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit holds while reading
        for _ in range(4):
            yield b"x" * 1000

    with serve(max_upload_bytes=2048) as client:
        response = client.post(
            f"/v1/models/{model_id}/embed",
            content=chunks(),
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 413 and response.json()["code"] == "payload_too_large"


def test_warmup_loads_once_and_reports_the_preprocessing(client: TestClient, model_id: str) -> None:
    first = client.post(f"/v1/models/{model_id}/warmup").json()
    assert first["loaded_models"] == [model_id] and first["memory_bytes"] > 0
    assert first["preprocessing"]["crop"] == "centre 16x16"
    client.post(f"/v1/models/{model_id}/warmup")
    metrics = client.get("/metrics").text
    assert f'sslpt_model_cache_events_total{{event="miss",model="{model_id}"}} 1.0' in metrics


def test_unknown_model_is_404_for_warmup(client: TestClient) -> None:
    response = client.post("/v1/models/nope/warmup")
    assert response.status_code == 404 and response.json()["code"] == "model_not_found"


def test_a_full_queue_answers_429_before_reading_the_body(
    serve: Callable[..., TestClient], settings: Settings, model_id: str
) -> None:
    with serve(embed_max_queue=1) as client:
        loaded = loaded_model(client, model_id)
        with loaded.batcher.admit():  # the one place is taken
            response = client.post(f"/v1/models/{model_id}/embed", json={"images": ["x"]})
    assert response.status_code == 429  # not 422: the invalid body was never parsed


def test_warmup_lists_only_the_callers_loaded_models(
    client: TestClient, settings: Settings, model_id: str, tmp_path: Path
) -> None:
    """It listed every tenant's loaded model ids before."""
    assert client.post(f"/v1/models/{model_id}/warmup").status_code == 200
    other = bearer(create_key(settings, "team-b"))
    theirs = register_random_model(
        settings.resolved_database_url, tmp_path / "theirs", tenant="team-b"
    )
    answer = client.post(f"/v1/models/{theirs}/warmup", headers=other).json()
    assert answer["loaded_models"] == [theirs]
    assert client.post(f"/v1/models/{model_id}/warmup").json()["loaded_models"] == [model_id]
