"""A client generated from the OpenAPI document by openapi-python-client talks to the API.

The app's document is written to a file, ``openapi-python-client generate`` (offline)
makes a Python package of it, and the package's functions call a real server: uvicorn on
a free loopback port in a thread. This checks that the document is complete enough for
code generation (operation ids become function names) and that the answers parse.
"""

from __future__ import annotations

import importlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from api.core.settings import Settings
from api.main import create_app
from tests.image_folders import image_bytes
from tests.served_app import served_in_thread
from worker.ingest import ingest_dataset

PACKAGE = "sslpt_generated_client"
GENERATOR = Path(sys.executable).with_name("openapi-python-client")


@pytest.fixture
def base_url(settings: Settings) -> Iterator[str]:
    with served_in_thread(settings) as url:
        yield url


@pytest.fixture
def generated(settings: Settings, tmp_path: Path) -> Iterator[Any]:
    """The generated client package, imported from a temporary folder."""
    if not GENERATOR.exists() and shutil.which("openapi-python-client") is None:
        pytest.skip("openapi-python-client is not installed (pip install -e '.[dev]')")
    command = str(GENERATOR) if GENERATOR.exists() else "openapi-python-client"
    document = tmp_path / "openapi.json"
    app = create_app(settings, run_reconciler=False)
    document.write_text(json.dumps(app.openapi()), encoding="utf-8")
    config = tmp_path / "generator.json"  # no post hooks: ruff need not be on PATH
    config.write_text(json.dumps({"package_name_override": PACKAGE, "post_hooks": []}))
    output = tmp_path / "client"
    arguments = ["--path", str(document), "--output-path", str(output), "--config", str(config)]
    done = subprocess.run(
        [command, "generate", *arguments],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert (output / PACKAGE / "__init__.py").exists(), done.stdout + done.stderr
    sys.path.insert(0, str(output))
    try:
        yield importlib.import_module(PACKAGE)
    finally:
        sys.path.remove(str(output))
        for name in [name for name in sys.modules if name.split(".")[0] == PACKAGE]:
            del sys.modules[name]


def submodule(package: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{package.__name__}.{name}")


def png_zip(count: int = 4) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for index in range(count):
            archive.writestr(f"shapes/img_{index}.png", image_bytes(index % 3, seed=index))
    return buffer.getvalue()


def test_generated_client_lists_methods_uploads_and_reads_a_dataset(
    generated: ModuleType, base_url: str, api_key: str, settings: Settings
) -> None:
    client = generated.AuthenticatedClient(base_url=base_url, token=api_key, timeout=30.0)
    methods_api = submodule(generated, "api.methods.methods_list_methods")
    upload_api = submodule(generated, "api.datasets.datasets_upload_dataset")
    get_api = submodule(generated, "api.datasets.datasets_get_dataset")
    models = submodule(generated, "models")
    file_type = submodule(generated, "types").File

    with client:
        methods = methods_api.sync(client=client)
        assert isinstance(methods, list)
        assert {"simclr", "mae", "vae"} <= {method.name for method in methods}

        created = upload_api.sync_detailed(
            client=client, body=file_type(payload=io.BytesIO(png_zip())), name="generated"
        )
        assert created.status_code == 202, created.content
        dataset = created.parsed
        assert isinstance(dataset, models.DatasetOut)
        assert (dataset.name, dataset.state) == ("generated", "ingesting")
        ingest_dataset(settings, dataset.id)  # what the ingest worker does with the message

        fetched = get_api.sync(client=client, dataset_id=dataset.id)
        assert isinstance(fetched, models.DatasetOut)
        assert (fetched.id, fetched.state, fetched.image_count) == (dataset.id, "ready", 4)

        unauthenticated = generated.Client(base_url=base_url, timeout=30.0)
        with unauthenticated:
            refused = get_api.sync_detailed(client=unauthenticated, dataset_id=dataset.id)
        assert refused.status_code == 401
