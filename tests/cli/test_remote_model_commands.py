"""``sslpt export``, ``evaluate``, ``embeddings`` and ``search`` (and the waiting they share
with ``datasets add``) against the app served over HTTP by uvicorn in a thread; ingests,
evaluations and dataset embeddings run in a thread as soon as they are queued, as a worker
would run them."""

from __future__ import annotations

import json
import re
import shutil
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner, Result

from api.cli import app
from api.core import queue
from api.core.settings import Settings, get_settings
from api.routes.datasets import views as dataset_views
from api.routes.models import evaluations, search
from tests.ingest import register
from tests.served_app import served_in_thread
from tests.serving.random_models import register_random_model
from worker.embed_dataset import embed_dataset
from worker.evaluate import run_evaluation
from worker.ingest import ingest_dataset

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.filterwarnings("ignore::FutureWarning"),  # torch.jit, for the TorchScript export
]


@pytest.fixture
def served(settings: Settings, api_key: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The app on a local port, and the CLI's URL and key pointing at it."""
    with served_in_thread(settings) as url:
        monkeypatch.setenv("SSLPT_API_URL", url)
        monkeypatch.setenv("SSLPT_API_KEY", api_key)
        get_settings.cache_clear()
        try:
            yield
        finally:
            get_settings.cache_clear()


Work = Callable[[Settings, str], str | None]


@pytest.fixture
def run_queued(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[ModuleType, Work], None]]:
    """``run_queued(routes, work)``: from then on, each row the ``routes`` module queues is
    run by ``work`` in a thread as soon as it is published, as a worker would run it."""
    started: list[threading.Thread] = []

    def run_queued(routes: ModuleType, work: Work) -> None:
        def publish(session: Any, celery: Any, task: str, row: Any) -> None:
            queue.commit_and_publish(session, celery, task, row)
            thread = threading.Thread(target=work, args=(settings, row.id), daemon=True)
            thread.start()
            started.append(thread)

        monkeypatch.setattr(routes, "commit_and_publish", publish)

    yield run_queued
    for thread in started:
        thread.join(timeout=60)


@pytest.fixture
def workers(run_queued: Callable[[ModuleType, Work], None]) -> None:
    """Evaluations and dataset embeddings run as soon as they are queued."""
    run_queued(evaluations, run_evaluation)
    run_queued(search, embed_dataset)


@pytest.fixture
def dataset_id(client: TestClient, image_folder: Path) -> str:
    return str(register(client, image_folder, "imgs")["id"])


@pytest.fixture
def model_id(settings: Settings, tmp_path: Path, dataset_id: str) -> str:
    """A tiny SimCLR model (random weights) recorded as if a job had produced it."""
    return register_random_model(
        settings.resolved_database_url, tmp_path / "model", dataset_id=dataset_id
    )


def sslpt(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def said(result: Result) -> str:
    """What a command wrote on stderr, its lines (wrapped at the console's width) joined."""
    return " ".join(result.stderr.split())


def cells(line: str) -> list[str]:
    """The cells of a row of a printed table."""
    return [cell.strip() for cell in re.split(r"[│|]", line)[1:-1]]


def test_export_streams_the_routes_zip_to_a_file_and_never_overwrites_by_default(
    served: None,
    client: TestClient,
    model_id: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    expected = client.get(f"/v1/models/{model_id}/export", params={"format": "safetensors"})
    assert expected.status_code == 200, expected.text
    here = tmp_path / "here"
    here.mkdir()
    monkeypatch.chdir(here)

    done = sslpt("export", model_id)
    assert done.exit_code == 0, done.output
    written = here / f"{model_id}-safetensors.zip"  # the name the server gives
    assert written.read_bytes() == expected.content
    assert done.stdout.strip() == f"{written.name} ({len(expected.content)} bytes)"
    assert sorted(p.name for p in here.iterdir()) == [written.name]  # no .part left behind

    written.write_bytes(b"mine")
    refused = sslpt("export", model_id)
    assert refused.exit_code == 1
    assert "exists" in said(refused) and "--force" in said(refused)
    assert written.read_bytes() == b"mine"
    forced = sslpt("export", model_id, "--force")
    assert forced.exit_code == 0, forced.output
    assert written.read_bytes() == expected.content

    torchscript = client.get(f"/v1/models/{model_id}/export", params={"format": "torchscript"})
    named = tmp_path / "model.zip"
    done = sslpt("export", model_id, "--format", "torchscript", "--output", str(named))
    assert done.exit_code == 0, done.output
    assert named.read_bytes() == torchscript.content != expected.content
    into_folder = sslpt("export", model_id, "--format", "torchscript", "-o", str(tmp_path))
    assert into_folder.exit_code == 0, into_folder.output
    assert (tmp_path / f"{model_id}-torchscript.zip").read_bytes() == torchscript.content


def test_export_errors_are_the_apis(
    served: None, model_id: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    unknown = sslpt("export", "nope")
    assert unknown.exit_code == 1
    assert "404 model_not_found: no model with id 'nope'" in said(unknown)
    bad_format = sslpt("export", model_id, "--format", "pickle")
    assert bad_format.exit_code == 1 and "422" in said(bad_format)
    assert "format" in said(bad_format)
    assert not list(tmp_path.glob("*.zip*"))


def test_evaluate_waits_for_the_probe_and_prints_it(
    served: None, workers: None, client: TestClient, model_id: str, dataset_id: str
) -> None:
    done = sslpt("evaluate", model_id, "--dataset", dataset_id)
    assert done.exit_code == 0, done.output
    evaluation = json.loads(done.stdout)
    assert evaluation["status"] == "succeeded"
    assert 0.0 <= evaluation["top1"] <= 1.0
    assert (evaluation["model_id"], evaluation["dataset_id"]) == (model_id, dataset_id)
    assert client.get(f"/v1/evaluations/{evaluation['id']}").json() == evaluation


def test_a_failed_evaluation_exits_1_with_its_reason(
    served: None, workers: None, model_id: str, dataset_id: str, image_folder: Path
) -> None:
    shutil.rmtree(image_folder)  # registered and ready, gone by the time the worker runs
    done = sslpt("evaluate", model_id, "--dataset", dataset_id)
    assert done.exit_code == 1
    evaluation = json.loads(done.stdout)
    assert evaluation["status"] == "failed" and evaluation["top1"] is None
    assert f"evaluation {evaluation['id']} failed: " in said(done)
    assert "no longer exists" in evaluation["failure_reason"]
    assert said(done).endswith("no longer exists")


def test_no_wait_prints_the_queued_work_and_unknown_models_are_404(
    served: None, model_id: str, dataset_id: str
) -> None:
    for command in ("evaluate", "embeddings"):
        queued = sslpt(command, model_id, "--dataset", dataset_id, "--no-wait")
        assert queued.exit_code == 0, queued.output
        assert json.loads(queued.stdout)["status"] == "queued"
        unknown = sslpt(command, "nope", "--dataset", dataset_id)
        assert unknown.exit_code == 1
        assert "404 model_not_found: no model with id 'nope'" in said(unknown)


def test_search_after_embeddings_finds_the_image_itself_first(
    served: None,
    workers: None,
    client: TestClient,
    model_id: str,
    dataset_id: str,
    image_folder: Path,
    tmp_path: Path,
) -> None:
    before = sslpt("search", model_id, "--image", str(image_folder / "red/red_003.png"))
    assert before.exit_code == 1
    assert "404 embedding_not_found" in said(before) and "/embeddings" in said(before)

    embedded = sslpt("embeddings", model_id, "--dataset", dataset_id)
    assert embedded.exit_code == 0, embedded.output
    embedding = json.loads(embedded.stdout)
    assert (embedding["status"], embedding["item_count"]) == ("succeeded", 32)

    query = image_folder / "red/red_003.png"
    found = sslpt("search", model_id, "--image", str(query), "-k", "3", "--json")
    assert found.exit_code == 0, found.output
    body = json.loads(found.stdout)
    assert (body["embedding_id"], body["dataset_id"]) == (embedding["id"], dataset_id)
    assert len(body["results"]) == 3
    assert (body["results"][0]["path"], body["results"][0]["label"]) == ("red/red_003.png", "red")
    assert body["results"][0]["score"] == pytest.approx(1.0, abs=1e-4)

    table = sslpt("search", model_id, "--image", str(query), "-k", "2", "--dataset", dataset_id)
    assert table.exit_code == 0, table.output
    rows = [cells(line) for line in table.stdout.splitlines() if "red_003" in line]
    assert rows == [["1", "1.0000", "red", "red/red_003.png"]]  # rank, score, label, path

    vector = client.post(
        f"/v1/models/{model_id}/embed", files={"files": ("q.png", query.read_bytes())}
    )
    vector_file = tmp_path / "vector.json"
    vector_file.write_text(json.dumps(vector.json()["embeddings"][0]))
    by_vector = sslpt("search", model_id, "--vector", str(vector_file), "-k", "3", "--json")
    assert by_vector.exit_code == 0, by_vector.output
    paths = [hit["path"] for hit in json.loads(by_vector.stdout)["results"]]
    assert paths == [hit["path"] for hit in body["results"]]


def test_search_refuses_a_bad_query_before_asking(
    served: None, model_id: str, image_folder: Path, tmp_path: Path
) -> None:
    image = str(image_folder / "red/red_003.png")
    vector_file = tmp_path / "vector.json"
    vector_file.write_text('{"not": "a list"}')
    for args in (
        [],
        ["--image", image, "--vector", str(vector_file)],
        ["--vector", str(vector_file)],
    ):
        refused = sslpt("search", model_id, *args)
        assert refused.exit_code == 2, refused.output
    unknown = sslpt("search", "nope", "--image", image)
    assert unknown.exit_code == 1
    assert "404 model_not_found: no model with id 'nope'" in said(unknown)


def test_datasets_add_still_waits_for_the_ingest_and_a_failed_one_exits_1(
    served: None,
    run_queued: Callable[[ModuleType, Work], None],
    image_folder: Path,
    tmp_path: Path,
) -> None:
    run_queued(dataset_views, ingest_dataset)
    added = sslpt("datasets", "add", "imgs", str(image_folder))
    assert added.exit_code == 0, added.output
    dataset = json.loads(added.stdout)
    assert (dataset["state"], dataset["image_count"]) == ("ready", 32)
    (tmp_path / "empty").mkdir()
    failed = sslpt("datasets", "add", "empty", str(tmp_path / "empty"))
    assert failed.exit_code == 1
    assert json.loads(failed.stdout)["state"] == "failed"
    assert "dataset empty failed: " in said(failed)


def test_submit_with_a_parent_model(
    served: None, client: TestClient, model_id: str, dataset_id: str
) -> None:
    args = ["submit", "--dataset", dataset_id, "--method", "byol", "--backbone", "tiny_cnn"]
    args += ["--image-size", "16", "--batch-size", "4"]
    done = sslpt(*args, "--parent", model_id)
    assert done.exit_code == 0, done.output
    job = client.get(f"/v1/jobs/{done.stdout.strip()}").json()
    assert (job["method"], job["parent_model_id"]) == ("byol", model_id)
    unknown = sslpt(*args, "--parent", "nope")
    assert unknown.exit_code == 1
    assert "404 model_not_found" in said(unknown)
