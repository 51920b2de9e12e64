"""A process-wide flag set when the worker is asked to stop (SIGTERM / Ctrl-C).

Celery's warm shutdown lets the running task finish; the training loop polls this flag
between steps, writes a checkpoint and leaves the job ``interrupted`` for another worker.
"""

from __future__ import annotations

import threading
from typing import Any

from celery.signals import worker_shutting_down

shutdown_requested = threading.Event()


@worker_shutting_down.connect
def _on_worker_shutting_down(**_kwargs: Any) -> None:
    shutdown_requested.set()
