"""A process supervisor for ``sslpt up``: children that exit on their own are restarted.

Each child (the API, a training worker, the ingest worker) is restarted after it exits,
after a back-off that starts at ``backoff_start`` seconds and doubles up to
``backoff_max``; a child that ran ``window`` seconds without a crash starts again from the
shortest back-off. A child that exits ``max_crashes`` times within ``window`` seconds is
crash-looping: it is left down (logged), and the others go on, so a worker that cannot
start does not take the API with it. ``on_exit`` hears of every exit (the caller ends a
dead worker's leases there). Nothing here knows what the children are.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChildSpec:
    name: str  # e.g. "api", "worker-1", "ingest"
    command: Sequence[str]
    env: dict[str, str]


@dataclass(frozen=True)
class RestartPolicy:
    backoff_start: float = 1.0
    backoff_max: float = 30.0
    max_crashes: int = 5
    window: float = 120.0


def describe_exit(returncode: int) -> str:
    """``killed by signal 9 (SIGKILL)`` or ``exited with code 1``."""
    if returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = "unknown"
        return f"killed by signal {-returncode} ({name})"
    return f"exited with code {returncode}"


@dataclass
class Child:
    spec: ChildSpec
    process: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    crashes: deque[float] = field(default_factory=deque)  # exit times within the window
    backoff: float = 0.0
    restart_at: float | None = None  # when a stopped child is started again
    given_up: bool = False

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None


ExitHandler = Callable[[Child, int], None]  # (the child, as it was, its return code)


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ChildSpec],
        on_exit: ExitHandler,
        policy: RestartPolicy | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.policy = policy or RestartPolicy()
        self.children = [Child(spec, backoff=self.policy.backoff_start) for spec in specs]
        self._on_exit = on_exit
        self._clock = clock

    def start(self) -> None:
        for child in self.children:
            self._spawn(child)

    def child(self, name: str) -> Child:
        return next(c for c in self.children if c.spec.name == name)

    def poll(self) -> None:
        """Notice exits and start children whose back-off has passed; call it often."""
        now = self._clock()
        for child in self.children:
            process = child.process
            if process is not None and (code := process.poll()) is not None:
                self._exited(child, code, now)
            if child.restart_at is not None and now >= child.restart_at:
                self._spawn(child)

    def stop(self, timeout: float = 60.0) -> None:
        """SIGTERM every child (workers checkpoint and hand their work back), wait up to
        ``timeout`` seconds in all, then SIGKILL what is left."""
        running = [c.process for c in self.children if c.process and c.process.poll() is None]
        for process in running:
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in running:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for child in self.children:
            child.restart_at = None

    def _spawn(self, child: Child) -> None:
        child.process = subprocess.Popen(list(child.spec.command), env=child.spec.env)
        child.started_at = self._clock()
        child.restart_at = None

    def _exited(self, child: Child, code: int, now: float) -> None:
        how = describe_exit(code)
        try:
            self._on_exit(child, code)
        except Exception:  # the database may be down: restarting must not depend on it
            log.exception("handling the exit of %s failed", child.spec.name)
        child.process = None
        policy = self.policy
        if now - child.started_at >= policy.window:
            child.backoff = policy.backoff_start  # it ran well for a while: start over
        child.crashes.append(now)
        while child.crashes and now - child.crashes[0] > policy.window:
            child.crashes.popleft()
        if len(child.crashes) >= policy.max_crashes:
            child.given_up = True
            log.error(
                "%s %s; it exited %d times in %gs, so it is left down (fix it and restart)",
                child.spec.name, how, len(child.crashes), policy.window,
            )  # fmt: skip
            return
        child.restart_at = now + child.backoff
        log.warning("%s %s; restarting in %gs", child.spec.name, how, child.backoff)
        child.backoff = min(child.backoff * 2, policy.backoff_max)
