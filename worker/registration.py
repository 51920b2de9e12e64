"""A worker process's row in the workers table: registered at start, a heartbeat every
few seconds (with the number of tasks it has finished), marked stopped at a clean exit.

A failed heartbeat (database briefly down) is logged and retried at the next beat; the
worker goes on working, and shows as not alive until a beat gets through.
"""

from __future__ import annotations

import logging
import os
import socket
import threading

from celery.signals import task_postrun

from api.core.persistence import workers
from api.core.persistence.db import session_scope
from api.core.persistence.leases import lease_owner
from api.core.persistence.tables import Worker, utcnow
from api.core.settings import Settings

log = logging.getLogger(__name__)


def describe_device(setting: str) -> tuple[str, str | None, int | None]:
    """(device, GPU name, GPU memory in bytes) the worker trains on."""
    import torch

    from ssl_engine.acceleration import resolve_device

    device = resolve_device(setting)
    if device.type != "cuda":
        return str(device), None, None
    index = device.index if device.index is not None else torch.cuda.current_device()
    properties = torch.cuda.get_device_properties(index)
    return f"cuda:{index}", properties.name, int(properties.total_memory)


class Registration:
    def __init__(self, settings: Settings, queue: str) -> None:
        self.url = settings.resolved_database_url
        self.settings = settings
        self.queue = queue
        self.worker_id = lease_owner()
        self.tasks_done = 0
        self._device: tuple[str, str | None, int | None] = ("cpu", None, None)
        self._registered = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        """Register (retried by the heartbeat thread if the database is down) and beat."""
        self._device = describe_device(self.settings.device)
        self._registered = self._register()
        task_postrun.connect(self._task_done, weak=False)
        self._thread.start()

    def _register(self) -> bool:
        device, gpu_name, gpu_memory = self._device
        now = utcnow()
        try:
            with session_scope(self.url, tenant=None) as session:
                workers.register(
                    session,
                    Worker(
                        id=self.worker_id,
                        host=socket.gethostname(),
                        pid=os.getpid(),
                        queue=self.queue,
                        device=device,
                        device_name=gpu_name,
                        device_memory_bytes=gpu_memory,
                        started_at=now,
                        last_heartbeat_at=now,
                        tasks_done=self.tasks_done,
                    ),
                )
        except Exception:  # the database may be down: the worker works on, and retries
            log.warning("worker %s could not register; retrying", self.worker_id, exc_info=True)
            return False
        return True

    def stop(self, reason: str = "stopped") -> None:
        self._stop.set()
        try:
            with session_scope(self.url, tenant=None) as session:
                workers.mark_stopped(session, self.worker_id, reason)
        except Exception:
            log.warning("could not mark worker %s stopped", self.worker_id, exc_info=True)

    def _task_done(self, **_kwargs: object) -> None:
        self.tasks_done += 1

    def _beat(self) -> None:
        while not self._stop.wait(workers.HEARTBEAT_SECONDS):
            if not self._registered:
                self._registered = self._register()
                continue
            try:
                with session_scope(self.url, tenant=None) as session:
                    workers.heartbeat(session, self.worker_id, self.tasks_done)
            except Exception:
                log.warning("worker heartbeat failed; retrying", exc_info=True)
