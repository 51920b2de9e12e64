"""Faults the reliability tests inject: a Redis of their own to restart, a TCP proxy in
front of PostgreSQL to cut, and signals to the worker processes.

Both outages are under the test's control and touch nothing shared: the machine's Redis
and PostgreSQL keep serving the other tests while "ours" goes down.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import redis

from tests.integration.services import Service, free_port

T = TypeVar("T")


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, every: float = 0.1
) -> T:
    """Poll ``condition`` until it returns something truthy; that value is returned."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(every)
    raise TimeoutError(f"{what} within {timeout}s")


class OwnRedis:
    """A redis-server on a free port, without persistence: a restart loses every message."""

    def __init__(self, log_dir: Path) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            pytest.fail("redis-server is not installed")
        self.binary = binary
        self.port = free_port()
        self.log_dir = log_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.log_dir / f"redis-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5)
        wait_until(lambda: _pings(client), 10, f"redis on port {self.port} did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False


@contextmanager
def own_redis(log_dir: Path) -> Iterator[OwnRedis]:
    server = OwnRedis(log_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``; ``cut`` refuses and drops every
    connection, as a stopped server would, and ``restore`` serves again on the same port."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._listener: socket.socket | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def restore(self) -> None:
        listener = socket.create_server(("127.0.0.1", self.port))  # SO_REUSEADDR set
        listener.settimeout(0.1)
        self._listener = listener
        self._stopped.clear()
        self._thread = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._thread.start()

    def cut(self) -> None:
        self._stopped.set()
        if self._thread is not None:
            self._thread.join()
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            for connection in self._open:
                with contextlib.suppress(OSError):
                    connection.shutdown(socket.SHUT_RDWR)
                connection.close()
            self._open.clear()

    def _accept(self, listener: socket.socket) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            client.settimeout(None)
            with self._lock:
                self._open.update((client, upstream))
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=_pump, args=(source, sink), daemon=True).start()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


@contextmanager
def proxied(host: str, port: int) -> Iterator[TcpProxy]:
    proxy = TcpProxy((host, port))
    proxy.restore()
    try:
        yield proxy
    finally:
        proxy.cut()


def workers(service: Service) -> list[subprocess.Popen[bytes]]:
    return [p for name, p in service.processes.items() if name.startswith("worker")]


def kill(process: subprocess.Popen[bytes], sig: signal.Signals, timeout: float = 60) -> int:
    """Send ``sig`` and wait for the process to exit; returns its exit code."""
    process.send_signal(sig)
    return process.wait(timeout=timeout)


def job_when(
    client: httpx.Client, job_id: str, test: Callable[[dict[str, object]], bool], timeout: float
) -> dict[str, object]:
    """The job as soon as ``test`` holds for it (polled quickly, to stop a run mid-way)."""

    def check() -> dict[str, object] | None:
        job: dict[str, object] = client.get(f"/v1/jobs/{job_id}").json()
        return job if test(job) else None

    return wait_until(check, timeout, f"job {job_id} did not reach the expected state", 0.05)


def step_of(job: dict[str, object]) -> int:
    progress = job["progress"]
    assert isinstance(progress, dict)
    return int(progress["step"])
