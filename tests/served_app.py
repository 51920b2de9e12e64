"""The app served over HTTP by uvicorn in a thread of the test process, for clients that
need a real socket (generated clients, the CLI)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from api.core.settings import Settings
from api.main import create_app
from tests.integration.services import free_port


@contextmanager
def served_in_thread(settings: Settings) -> Iterator[str]:
    """Serve the app (without its reconciler) on a free loopback port; yields its URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, run_reconciler=False), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
