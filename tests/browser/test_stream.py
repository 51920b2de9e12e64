"""Server-sent events of job changes: what they carry, and that they never hold a shutdown."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.core.persistence import jobs, metrics
from api.core.persistence.db import session_scope
from api.core.persistence.tables import LOCAL_TENANT, JobStatus
from api.core.settings import Settings
from api.routes.jobs.stream import JobsWatch
from tests.image_folders import make_image_folder
from tests.integration.services import (
    Service,
    create_cli_key,
    free_port,
    register_folder,
    service_env,
    wait_ready,
)
from tests.worker.jobs_in_db import submit

OWNER = "test-worker"


def parse_events(text: str) -> list[tuple[str, object]]:
    """(event name, JSON data) of each message in an event-stream body."""
    out = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        lines = [line for line in block.split("\n") if line and not line.startswith(":")]
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[5:].strip() for line in lines if line.startswith("data:"))
        if data:
            out.append((name, json.loads(data)))
    return out


def run_and_finish(settings: Settings, job_id: str, losses: dict[int, float]) -> None:
    """Claim the job, log a loss per step, and mark it succeeded, as a worker would."""
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        assert jobs.claim(session, job_id, OWNER, timedelta(seconds=60))
        for step, loss in losses.items():
            metrics.record_metrics(session, job_id, step, 0, {"loss": loss})
        assert jobs.transition(session, job_id, JobStatus.SUCCEEDED, "trained", owner=OWNER)


def test_a_finished_jobs_stream_sends_state_history_events_then_ends(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    job_id = submit(settings, tmp_path)
    run_and_finish(settings, job_id, {1: 2.0, 2: 1.5, 3: 1.25})

    events = parse_events(client.get(f"/v1/jobs/{job_id}/stream").text)

    names = [name for name, _ in events]
    assert names == ["job", "metrics", "events", "end"]
    body = dict(events)
    assert body["job"]["status"] == "succeeded"  # type: ignore[index]
    points = body["metrics"]["series"]["loss"]  # type: ignore[index]
    assert [(p["step"], p["value"]) for p in points] == [(1, 2.0), (2, 1.5), (3, 1.25)]
    transitions = [(e["from_status"], e["to_status"]) for e in body["events"]]  # type: ignore[attr-defined]
    assert transitions == [(None, "queued"), ("queued", "running"), ("running", "succeeded")]
    assert body["end"] == {"job_id": job_id, "status": "succeeded"}


def test_a_reconnecting_client_gets_only_what_it_lacks(
    client: TestClient, settings: Settings, tmp_path: Path
) -> None:
    job_id = submit(settings, tmp_path)
    run_and_finish(settings, job_id, {1: 2.0, 2: 1.5})
    first = dict(parse_events(client.get(f"/v1/jobs/{job_id}/stream").text))
    last_metric = first["metrics"]["last_metric_id"]  # type: ignore[index]
    last_event = first["events"][-1]["id"]  # type: ignore[index]

    with session_scope(
        settings.resolved_database_url, tenant=LOCAL_TENANT
    ) as session:  # step 1 replayed
        metrics.record_metrics(session, job_id, 1, 0, {"loss": 1.9})
    query = f"after_metric={last_metric}&after_event={last_event}"
    again = parse_events(client.get(f"/v1/jobs/{job_id}/stream?{query}").text)

    assert [name for name, _ in again] == ["job", "metrics", "end"]
    assert dict(again)["metrics"]["series"] == {  # type: ignore[index]
        "loss": [{"step": 1, "epoch": 0, "value": 1.9}]
    }


def test_an_unknown_jobs_stream_is_a_404(client: TestClient) -> None:
    answer = client.get("/v1/jobs/nope/stream")
    assert answer.status_code == 404
    assert answer.json()["code"] == "job_not_found"


def test_the_jobs_watch_sends_each_change_once(settings: Settings, tmp_path: Path) -> None:
    running = submit(settings, tmp_path)
    waiting = submit(settings, tmp_path)
    watch = JobsWatch(settings, LOCAL_TENANT)

    def sent() -> list[tuple[str, int]]:
        bodies = [json.loads(str(event.data)) for event in watch.poll()]
        return [(body["id"], body["progress"]["step"]) for body in bodies]

    assert sorted(sent()) == sorted([(running, 0), (waiting, 0)])
    assert sent() == []  # nothing changed
    with session_scope(settings.resolved_database_url, tenant=LOCAL_TENANT) as session:
        jobs.claim(session, running, OWNER, timedelta(seconds=60))
        jobs.update_progress(session, running, OWNER, step=3, total_steps=10)
    assert sent() == [(running, 3)]


@contextmanager
def api_process(tmp_path: Path) -> Iterator[Service]:
    """The API and an ingest worker (no training worker: jobs stay queued), migrated, as
    real processes."""
    port = free_port()
    env = service_env(tmp_path / "data", SSLPT_PORT=str(port))
    subprocess.run([sys.executable, "-m", "api.cli", "db", "upgrade"], env=env, check=True)
    (tmp_path / "logs").mkdir()
    service = Service(
        f"http://127.0.0.1:{port}",
        env,
        tmp_path / "data",
        tmp_path / "logs",
        api_key=create_cli_key(env),
    )
    service.start("api")
    service.start("ingest")
    try:
        wait_ready(service)
        yield service
    finally:
        service.stop()


def first_event(lines: Iterator[str]) -> str:
    for line in lines:
        if line.startswith("event:"):
            return line[6:].strip()
    raise AssertionError("the stream closed before any event")


@pytest.mark.integration
def test_the_api_stops_at_once_on_sigterm_with_streams_open(tmp_path: Path) -> None:
    folder = make_image_folder(tmp_path / "images", per_class=2)
    with api_process(tmp_path) as service:
        client = service.client(timeout=60)
        spec = {
            "method": "simclr",
            "dataset_id": register_folder(client, folder),
            "backbone": "tiny_cnn",
        }
        job = client.post("/v1/jobs", json={**spec, "batch_size": 4}).json()  # stays queued

        with client.stream("GET", "/v1/jobs/stream") as dropped:  # a client that goes away
            assert first_event(dropped.iter_lines()) == "job"
        ended = threading.Event()

        def follow() -> None:
            with client.stream("GET", f"/v1/jobs/{job['id']}/stream") as one:
                assert first_event(one.iter_lines()) == "job"
                with client.stream("GET", "/v1/jobs/stream") as every:
                    lines = every.iter_lines()
                    assert first_event(lines) == "job"
                    started.set()
                    for _ in lines:  # until the server ends the stream
                        pass
            ended.set()

        started = threading.Event()
        reader = threading.Thread(target=follow, daemon=True)
        reader.start()
        assert started.wait(30), service.logs()
        api = next(iter(service.processes.values()))
        began = time.monotonic()
        api.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then re-raises the signal it caught: -SIGTERM is a clean exit
        assert api.wait(timeout=10) in (0, -signal.SIGTERM)
        stopped_in = time.monotonic() - began
        assert ended.wait(5), "the client's streams were not closed"
        logs = service.logs()
    assert stopped_in < 5, logs
    assert "Application shutdown complete" in logs, logs
    assert "Traceback" not in logs, logs
