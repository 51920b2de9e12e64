"""A cap on requests in flight per owner (a tenant, a key), refused at once when reached.

Embed requests are admitted by their model's batcher; routes whose work is not batched
(energies, event streams) hold a place here for as long as they run, so that one owner's
burst of slow requests is answered 429 instead of queueing behind or starving others.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from api.errors import ApiError

RETRY_AFTER_SECONDS = 1


class InFlightLimit:
    def __init__(self, limit: int, what: str) -> None:
        self.limit = limit
        self.what = what  # e.g. "energy requests per tenant", for the 429's message
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()

    def count(self, owner: str) -> int:
        with self._lock:
            return self._counts.get(owner, 0)

    def acquire(self, owner: str) -> None:
        """Take a place for ``owner`` (release it with ``release``); 429 if none is left."""
        with self._lock:
            held = self._counts.get(owner, 0)
            if held >= self.limit:
                raise ApiError(
                    429,
                    "too_many_in_flight",
                    f"at most {self.limit} {self.what} at once; retry when one has finished",
                    {"limit": self.limit},
                    headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
                )
            self._counts[owner] = held + 1

    def release(self, owner: str) -> None:
        with self._lock:
            left = self._counts[owner] - 1
            if left:
                self._counts[owner] = left
            else:
                del self._counts[owner]

    @contextmanager
    def held(self, owner: str) -> Iterator[None]:
        self.acquire(owner)
        try:
            yield
        finally:
            self.release(owner)
