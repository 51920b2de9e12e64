"""The Celery application. Messages carry only a job id; the database holds the rest."""

from __future__ import annotations

from typing import Any

from celery import Celery

from api.settings import Settings, get_settings

QUEUE = "sslpt"


def broker_options(settings: Settings) -> dict[str, Any]:
    """Transport options: kombu's filesystem transport needs its folders spelled out."""
    if not settings.uses_filesystem_broker:
        return {}
    folder = settings.broker_dir
    for sub in ("queue", "processed", "control"):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder / "queue"),
        "data_folder_out": str(folder / "queue"),
        "processed_folder": str(folder / "processed"),
        "control_folder": str(folder / "control"),  # kombu's default is ./control
        "store_processed": False,
    }


def create_celery(settings: Settings | None = None) -> Celery:
    settings = settings or get_settings()
    app = Celery("sslpt", broker=settings.resolved_broker_url, include=["worker.tasks"])
    app.conf.update(
        broker_transport_options=broker_options(settings),
        broker_connection_retry_on_startup=True,
        # A worker outlives a broker restart of any length: it keeps reconnecting (the
        # job it is training never needed the broker; the database holds its state).
        broker_connection_max_retries=None,
        task_default_queue=QUEUE,
        task_ignore_result=True,  # the database row is the result
        task_acks_late=False,  # a lost job is found by its expired lease, not redelivery
        worker_prefetch_multiplier=1,  # one job per worker process at a time
        worker_hijack_root_logger=False,
        task_serializer="json",
        accept_content=["json"],
    )
    return app


celery_app = create_celery()
