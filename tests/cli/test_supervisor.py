"""``sslpt up``'s supervisor with real child processes: restarts with back-off, the
crash-loop guard, and what it tells its exit handler."""

from __future__ import annotations

import signal
import sys
import time

from api.cli.supervisor import Child, ChildSpec, RestartPolicy, Supervisor, describe_exit

CRASH = [sys.executable, "-c", "raise SystemExit(3)"]
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def wait_exit(child: Child) -> None:
    assert child.process is not None
    child.process.wait(timeout=30)


def test_a_crashing_child_is_restarted_with_doubling_backoff_then_left_down() -> None:
    clock, exits = Clock(), []
    policy = RestartPolicy(backoff_start=1, backoff_max=4, max_crashes=5, window=120)
    supervisor = Supervisor(
        [ChildSpec("bad", CRASH, {}), ChildSpec("good", SLEEP, {})],
        on_exit=lambda child, code: exits.append((child.spec.name, child.pid, code)),
        policy=policy,
        clock=clock,
    )
    supervisor.start()
    bad, good = supervisor.child("bad"), supervisor.child("good")
    good_pid = good.pid
    delays = []
    try:
        while not bad.given_up:
            wait_exit(bad)
            supervisor.poll()  # notices the exit at clock.now
            if bad.given_up:
                break
            assert bad.restart_at is not None and bad.process is None
            delays.append(bad.restart_at - clock.now)
            clock.now = bad.restart_at - 0.01
            supervisor.poll()
            assert bad.process is None  # not before its back-off has passed
            clock.now = bad.restart_at
            supervisor.poll()
            assert bad.process is not None  # started again
        assert delays == [1, 2, 4, 4]  # doubling, capped at backoff_max
        assert [code for name, _, code in exits] == [3] * 5
        assert all(name == "bad" and pid is not None for name, pid, _ in exits)
        clock.now += 100
        supervisor.poll()
        assert bad.process is None  # left down for good
        assert good.pid == good_pid and good.process is not None and good.process.poll() is None
    finally:
        supervisor.stop(timeout=10)
    assert good.process is not None and good.process.returncode == -signal.SIGTERM


def test_a_child_that_ran_well_starts_again_from_the_shortest_backoff() -> None:
    clock = Clock()
    policy = RestartPolicy(backoff_start=1, backoff_max=30, max_crashes=5, window=10)
    supervisor = Supervisor([ChildSpec("w", CRASH, {})], lambda *_: None, policy, clock)
    supervisor.start()
    child = supervisor.child("w")
    try:
        for _ in range(3):  # crashes at t = 0, 1, 3: back-off 1, 2, then 4
            wait_exit(child)
            supervisor.poll()
            assert child.restart_at is not None
            clock.now = child.restart_at
            supervisor.poll()
        wait_exit(child)
        clock.now += 50  # this run lasted longer than the window
        supervisor.poll()
        assert child.restart_at == clock.now + 1 and not child.given_up
    finally:
        supervisor.stop(timeout=10)


def test_an_exit_handler_that_fails_does_not_stop_the_restart() -> None:
    def broken(_child: Child, _code: int) -> None:
        raise RuntimeError("database down")

    policy = RestartPolicy(backoff_start=0.01, backoff_max=0.01, max_crashes=100, window=60)
    supervisor = Supervisor([ChildSpec("w", CRASH, {})], broken, policy)
    supervisor.start()
    child = supervisor.child("w")
    first = child.pid
    deadline = time.monotonic() + 20
    try:
        while child.pid in (None, first):
            assert time.monotonic() < deadline, "the child was not restarted"
            supervisor.poll()
            time.sleep(0.01)
    finally:
        supervisor.stop(timeout=10)


def test_exits_are_described_by_signal_or_code() -> None:
    assert describe_exit(-9) == "killed by signal 9 (SIGKILL)"
    assert describe_exit(1) == "exited with code 1"
