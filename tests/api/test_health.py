from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from api.core.settings import Settings
from api.main import create_app


def test_health_is_ok(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}


def test_ready_when_database_and_filesystem_broker_answer(client: TestClient) -> None:
    response = client.get("/ready")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}


def test_ready_is_503_naming_the_unreachable_database_and_broker(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        database_url="postgresql+psycopg://postgres@127.0.0.1:1/none?connect_timeout=1",
        broker_url="redis://127.0.0.1:1/0",
    )
    with TestClient(create_app(settings, run_reconciler=False)) as client:
        response = client.get("/ready")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_ready"
    assert body["details"]["database"] != "ok"
    assert body["details"]["broker"] != "ok"


def test_prometheus_metrics_count_requests(client: TestClient) -> None:
    client.get("/health")
    text = client.get("/metrics").text
    assert 'sslpt_http_requests_total{method="GET",route="/health",status="200"}' in text


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
