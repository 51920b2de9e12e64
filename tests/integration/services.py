"""Start the real API and Celery worker processes for integration tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import create_engine, text

from api.core.queue import INGEST_QUEUE
from tests.image_folders import make_image_folder

REQUIRE_ENV = "SSLPT_TEST_REQUIRE_SERVICES"
POSTGRES_ENV = "SSLPT_TEST_POSTGRES_URL"  # an admin URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test
REDIS_ENV = "SSLPT_TEST_REDIS_URL"  # e.g. redis://127.0.0.1:6379/13 (flushed by the tests)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The processes' environment: test timings, and datasets allowed anywhere under the
    temporary folder, where tests make their images (the data directory stays refused)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SSLPT_")}
    env.update(
        SSLPT_DATA_DIR=str(data_dir),
        SSLPT_DATASET_ROOTS=tempfile.gettempdir(),
        SSLPT_LEASE_SECONDS="10",
        SSLPT_PROGRESS_EVERY_STEPS="1",
        SSLPT_RECONCILE_INTERVAL_SECONDS="2",
        SSLPT_TORCH_THREADS="1",
        SSLPT_DEVICE="cpu",
        PYTHONUNBUFFERED="1",
    )
    env.update(overrides)
    return env


@dataclass
class Service:
    base_url: str
    env: dict[str, str]
    data_dir: Path
    log_dir: Path
    api_key: str = ""
    processes: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)

    def client(self, timeout: float = 60) -> httpx.Client:
        """An HTTP client of the API that sends the service's admin key."""
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.api_key}"}

    def start(self, role: str) -> subprocess.Popen[bytes]:
        """Start ``api``, ``worker`` (training) or ``ingest`` (the ingest queue's worker)."""
        log = (self.log_dir / f"{role}-{len(self.processes)}.log").open("wb")
        command = ["worker", f"--queue={INGEST_QUEUE}"] if role == "ingest" else [role]
        process = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *command],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        self.processes[f"{role}-{len(self.processes)}"] = process
        return process

    def logs(self) -> str:
        return "\n".join(
            f"===== {p.name}\n{p.read_text(errors='replace')[-4000:]}"
            for p in sorted(self.log_dir.glob("*.log"))
        )

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()


@contextmanager
def running_service(tmp: Path, **env_overrides: str) -> Iterator[Service]:
    """API, one training worker and one ingest worker as separate processes, migrated
    first, ready when /ready says so."""
    port = free_port()
    data_dir = tmp / "data"
    log_dir = tmp / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    env = service_env(data_dir, SSLPT_PORT=str(port), **env_overrides)
    subprocess.run(
        [sys.executable, "-m", "api.cli", "db", "upgrade"], env=env, check=True, capture_output=True
    )
    key = create_cli_key(env)
    env["SSLPT_API_KEY"] = key  # for the CLI; the API and worker ignore it
    service = Service(
        base_url=f"http://127.0.0.1:{port}",
        env=env,
        data_dir=data_dir,
        log_dir=log_dir,
        api_key=key,
    )
    service.start("api")
    service.start("worker")
    service.start("ingest")
    try:
        wait_ready(service)
        yield service
    except BaseException:
        print(service.logs())
        raise
    finally:
        service.stop()


def create_cli_key(env: dict[str, str], tenant: str = "local", *, admin: bool = True) -> str:
    """A key made as an operator does, with ``sslpt keys create``; the key is its stdout."""
    command = [sys.executable, "-m", "api.cli", "keys", "create", "--tenant", tenant]
    done = subprocess.run(
        [*command, *(("--admin", "--operator") if admin else ("--no-admin",))],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    return done.stdout.strip()


def wait_ready(service: Service, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{service.base_url}/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"API not ready after {timeout}s\n{service.logs()}")


def wait_for_job(client: httpx.Client, job_id: str, timeout: float = 240) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        if job["status"] in ("succeeded", "failed", "cancelled"):
            return job
        time.sleep(0.5)
    raise TimeoutError(f"job {job_id} did not finish in {timeout}s: {job}")


def required_url(name: str) -> str:
    """The URL in env var ``name``; skipped if unset, unless the services are required (CI)."""
    value = os.environ.get(name)
    if value:
        return value
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{name} must be set when {REQUIRE_ENV}=1")
    pytest.skip(f"{name} not set (set it, or run .ci/run, to test against the real service)")


@contextmanager
def fresh_postgres_database(admin_url: str) -> Iterator[str]:
    """A new empty database on the server of ``admin_url``, dropped afterwards."""
    name = f"sslpt_it_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def flushed_redis(url: str) -> str:
    import redis

    redis.Redis.from_url(url).flushdb()
    return url


@contextmanager
def production_service(tmp: Path, **env_overrides: str) -> Iterator[Service]:
    """``running_service`` on a fresh PostgreSQL database and a flushed Redis database
    (skipped without them, a failure when the services are required)."""
    admin_url = required_url(POSTGRES_ENV)
    redis_url = flushed_redis(required_url(REDIS_ENV))
    with (
        fresh_postgres_database(admin_url) as database_url,
        running_service(
            tmp, SSLPT_DATABASE_URL=database_url, SSLPT_BROKER_URL=redis_url, **env_overrides
        ) as service,
    ):
        yield service


def wait_for_dataset(client: httpx.Client, dataset_id: str, timeout: float = 120) -> dict[str, Any]:
    """The dataset once its ingest ended (``ready`` or ``failed``)."""
    deadline = time.monotonic() + timeout
    while True:
        dataset: dict[str, Any] = client.get(f"/v1/datasets/{dataset_id}").json()
        if dataset["state"] != "ingesting" or time.monotonic() > deadline:
            return dataset
        time.sleep(0.2)


def register_folder(client: httpx.Client, folder: Path, name: str = "shapes") -> str:
    """Register ``folder`` as a dataset and wait until the ingest worker made it ready; its
    id."""
    response = client.post("/v1/datasets", json={"name": name, "path": str(folder)})
    assert response.status_code == 202, response.text
    dataset = wait_for_dataset(client, response.json()["id"])
    assert dataset["state"] == "ready", dataset
    return str(dataset["id"])


def register_unlabeled_images(client: httpx.Client, folder: Path, per_class: int) -> str:
    """Generate unlabeled images in ``folder`` and register them; the dataset's id."""
    return register_folder(client, make_image_folder(folder, per_class=per_class, labeled=False))
