"""Retrying database work through short outages (a restart, a failover, a dropped link).

Training runs for hours and must not die because PostgreSQL blinked: progress writes are
retried a few times and then dropped (the next one carries newer state), and the writes
that end a job are retried for longer, since they hold the finished work.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import InterfaceError, OperationalError

log = logging.getLogger(__name__)
T = TypeVar("T")

# Errors of the connection, not of the statement: the same statement may succeed later.
CONNECTION_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError)


def with_retries(
    action: Callable[[], T],
    *,
    what: str,
    attempts: int,
    first_delay: float,
    max_delay: float = 5.0,
    retry_on: tuple[type[Exception], ...] = CONNECTION_ERRORS,
) -> T:
    """Run ``action``; after an error in ``retry_on`` wait (doubling from ``first_delay``,
    at most ``max_delay``) and run it again, ``attempts`` times in all. The last error is
    raised."""
    if attempts < 1:
        raise ValueError(f"attempts must be >= 1, got {attempts}")
    delay = first_delay
    for attempt in range(1, attempts):
        try:
            return action()
        except retry_on as error:
            first_line = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            log.warning(
                "%s failed (attempt %d of %d): %s; retrying in %.1fs",
                what, attempt, attempts, first_line, delay,
            )  # fmt: skip
            time.sleep(delay)
            delay = min(delay * 2, max_delay)
    return action()


def retry_final_write(action: Callable[[], T], *, what: str) -> T:
    """For the writes that end a job, which hold finished work: retried through about
    20 s of outage. If it lasts longer, the lease runs out and another worker ends the
    job from its last checkpoint."""
    return with_retries(action, what=what, attempts=7, first_delay=0.5)
