"""The worker's Celery app, built from the environment's settings when this module is
imported (a worker process imports it; the API never does)."""

from __future__ import annotations

from api.core.queue import create_celery
from api.core.settings import get_settings

celery_app = create_celery(get_settings(), include=["worker.tasks"])
