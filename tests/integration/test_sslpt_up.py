"""``sslpt up`` (what ``make run`` runs) as a real process tree: SIGKILL its training
worker mid-epoch (what the OOM killer does) and nothing but a ``worker_lost`` and a
``resumed`` event shows it: the API answers throughout, a new worker is started, and the
job resumes from its checkpoint and succeeds with every loss step logged once.

Leases last 300 s and the API's reconciler runs every 300 s here, so the job can only
come back this fast because the supervisor ended the dead worker's leases itself.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.faults import job_when, step_of, wait_until
from tests.integration.services import (
    POSTGRES_ENV,
    REDIS_ENV,
    flushed_redis,
    free_port,
    fresh_postgres_database,
    register_unlabeled_images,
    required_url,
    service_env,
    wait_for_job,
)

STEPS = 2 * 24  # 2 epochs of 96 unlabeled images in batches of 4
RUN = {
    "method": "simclr",
    "backbone": "tiny_cnn",
    "image_size": 16,
    "epochs": 2,
    "batch_size": 4,
    "seed": 5,
    "training": {"checkpoint_every_steps": 5},
}


@contextlib.contextmanager
def stores(kind: str) -> Iterator[dict[str, str]]:
    """The settings of the embedded default (SQLite + filesystem broker) or of PostgreSQL
    and Redis."""
    if kind == "embedded":
        yield {}
        return
    redis_url = flushed_redis(required_url(REDIS_ENV))
    with fresh_postgres_database(required_url(POSTGRES_ENV)) as database_url:
        yield {"SSLPT_DATABASE_URL": database_url, "SSLPT_BROKER_URL": redis_url}


def training_workers(up: subprocess.Popen[bytes]) -> list[int]:
    """Pids of the training workers ``sslpt up`` runs (its children ``-m worker`` without
    the ingest queue)."""
    listed = subprocess.run(
        ["ps", "--ppid", str(up.pid), "-o", "pid=,args="], capture_output=True, text=True
    ).stdout
    return [
        int(line.split()[0])
        for line in listed.splitlines()
        if "-m worker" in line and "--queue" not in line
    ]


class HealthWatch(threading.Thread):
    """Calls /health every 0.2 s and counts the calls that were not a quick 200."""

    def __init__(self, base_url: str) -> None:
        super().__init__(daemon=True)
        self.base_url = base_url
        self.calls = 0
        self.failures: list[str] = []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            try:
                answer = httpx.get(f"{self.base_url}/health", timeout=5)
                if answer.status_code != 200:
                    self.failures.append(str(answer.status_code))
            except httpx.HTTPError as error:
                self.failures.append(repr(error))
            self.calls += 1
            time.sleep(0.2)


@pytest.mark.parametrize("kind", ["embedded", "postgres+redis"])
def test_a_killed_worker_is_replaced_and_its_job_resumes(tmp_path: Path, kind: str) -> None:
    port = free_port()
    with stores(kind) as urls:
        env = service_env(
            tmp_path / "data",
            SSLPT_PORT=str(port),
            SSLPT_LEASE_SECONDS="300",
            SSLPT_RECONCILE_INTERVAL_SECONDS="300",
            **urls,
        )
        log = (tmp_path / "up.log").open("wb")
        up = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "up"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        base_url = f"http://127.0.0.1:{port}"
        watch = HealthWatch(base_url)
        try:
            key_file = tmp_path / "data" / "local-api-key"
            wait_until(lambda: key_file.is_file() and key_file.read_text().strip(), 60, "no key")
            headers = {"Authorization": f"Bearer {key_file.read_text().strip()}"}
            with httpx.Client(base_url=base_url, headers=headers, timeout=60) as client:
                wait_until(lambda: _ready(client), 90, "the API did not come up")
                dataset_id = register_unlabeled_images(client, tmp_path / "images", per_class=24)
                (worker,) = wait_until(lambda: training_workers(up), 30, "no training worker")
                job = client.post("/v1/jobs", json={**RUN, "dataset_id": dataset_id})
                assert job.status_code == 201, job.text
                job_id = job.json()["id"]
                job_when(client, job_id, lambda j: step_of(j) >= 7, timeout=120)
                watch.start()
                os.kill(worker, signal.SIGKILL)

                replaced = wait_until(
                    lambda: [p for p in training_workers(up) if p != worker], 30, "no new worker"
                )
                finished = wait_for_job(client, job_id, timeout=180)
                assert finished["status"] == "succeeded", finished
                events = client.get(f"/v1/jobs/{job_id}/events").json()
                lost = [e["reason"] for e in events if e["kind"] == "worker_lost"]
                assert len(lost) == 1 and lost[0].endswith(
                    f":{worker} was killed by signal 9 (SIGKILL)"
                ), lost
                assert any(e["kind"] == "resumed" for e in events), events
                series = client.get(f"/v1/jobs/{job_id}/metrics", params={"name": "loss"}).json()[
                    "series"
                ]
                assert [p["step"] for p in series["loss"]] == list(range(1, STEPS + 1))
                assert up.poll() is None and len(replaced) == 1
                listed = {w["pid"]: w for w in client.get("/v1/workers").json()}
                assert not listed[worker]["alive"]
                assert listed[worker]["stop_reason"] == "killed by signal 9 (SIGKILL)"
                assert listed[replaced[0]]["alive"]
                wait_until(  # counted at its next heartbeat
                    lambda: any(
                        w["pid"] == replaced[0] and w["tasks_done"] == 1
                        for w in client.get("/v1/workers").json()
                    ),
                    15,
                    "the new worker did not count its task",
                )
                ready = client.get("/ready").json()
                assert ready["workers"]["alive"] == 2  # the new training worker and ingest
            watch.done.set()
            watch.join(10)
            assert watch.calls > 10 and watch.failures == []
        finally:
            watch.done.set()
            up.send_signal(signal.SIGTERM)
            try:
                assert up.wait(timeout=90) == 0
            finally:
                if up.poll() is None:
                    up.kill()
                print((tmp_path / "up.log").read_text(errors="replace")[-6000:])


def _ready(client: httpx.Client) -> bool:
    try:
        return client.get("/ready").status_code == 200
    except httpx.HTTPError:
        return False
