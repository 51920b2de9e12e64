"""Database work is retried through connection errors, and only through those."""

from __future__ import annotations

import pytest
from sqlalchemy.exc import IntegrityError, OperationalError

from worker import db_retry
from worker.db_retry import with_retries


class Flaky:
    """Fails with ``error`` the first ``failures`` calls, then returns the call count."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> int:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return self.calls


def connection_lost() -> OperationalError:
    return OperationalError("SELECT 1", {}, ConnectionError("server closed the connection"))


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []
    monkeypatch.setattr(db_retry.time, "sleep", slept.append)
    return slept


def test_connection_errors_are_retried_with_growing_waits(no_sleeping: list[float]) -> None:
    action = Flaky(3, connection_lost())
    assert with_retries(action, what="w", attempts=5, first_delay=0.5, max_delay=1.5) == 4
    assert no_sleeping == [0.5, 1.0, 1.5]


def test_the_last_error_is_raised_when_attempts_run_out() -> None:
    action = Flaky(5, connection_lost())
    with pytest.raises(OperationalError):
        with_retries(action, what="w", attempts=3, first_delay=0.1)
    assert action.calls == 3


def test_other_errors_are_not_retried() -> None:
    action = Flaky(1, IntegrityError("INSERT", {}, ValueError("duplicate key")))
    with pytest.raises(IntegrityError):
        with_retries(action, what="w", attempts=3, first_delay=0.1)
    assert action.calls == 1
