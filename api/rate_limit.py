"""A token bucket per API key, and one per client address, in this API process's memory.

Each key (or address) may make ``burst`` requests at once and ``rate`` per second
sustained. With several API processes behind a load balancer each process enforces it
separately, so the effective limit is the per-process limit times the number of processes.
Buckets that have refilled are dropped once there are many, so a flood from many
addresses cannot grow the table without bound.
"""

from __future__ import annotations

import math
import threading
import time

MAX_BUCKETS = 100_000


class RateLimiter:
    def __init__(self, rate: float, burst: int, max_buckets: int = MAX_BUCKETS) -> None:
        self.rate = rate
        self.burst = burst
        self.max_buckets = max_buckets
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, last refill)
        self._lock = threading.Lock()

    def acquire(self, key: str) -> float | None:
        """Take one token for ``key``: None when allowed, else seconds until one is free."""
        if self.rate <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            if key not in self._buckets and len(self._buckets) >= self.max_buckets:
                self._drop_full(now)
            if tokens < 1:
                self._buckets[key] = (tokens, now)
                return (1 - tokens) / self.rate
            self._buckets[key] = (tokens - 1, now)
            return None

    def _drop_full(self, now: float) -> None:
        """Forget buckets that have refilled (they equal a new one); if none has, the
        oldest half, which errs towards letting a request through."""
        full = [
            k
            for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self.rate >= self.burst
        ]
        for key in full:
            del self._buckets[key]
        if len(self._buckets) >= self.max_buckets:
            by_age = sorted(self._buckets, key=lambda k: self._buckets[k][1])
            for key in by_age[: len(by_age) // 2 + 1]:
                del self._buckets[key]


def retry_after_header(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, math.ceil(seconds)))}
