"""A thread pool for CPU work of requests (decoding, base64, parsing), off the event loop,
shared round-robin between tenants.

Pillow decodes and resizes without holding the GIL, so a few threads decode in parallel
while the event loop keeps accepting requests. The pool is bounded, so a burst of large
uploads queues here instead of oversubscribing the cores the model needs. Work waits in
one queue per tenant and a free thread takes the next tenant's oldest item in turn, so a
tenant with one small image waits for at most one item of each other tenant, never for
another tenant's whole backlog.
"""

from __future__ import annotations

import asyncio
import functools
import os
import threading
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

DECODE_THREADS = max(2, os.cpu_count() or 1)

_Work = tuple[Callable[[], Any], Future[Any]]


class FairPool:
    """Threads taking work round-robin across owners (tenants), oldest first within one."""

    def __init__(self, threads: int, name: str) -> None:
        self.threads = threads
        self.name = name
        self._queues: OrderedDict[str, deque[_Work]] = OrderedDict()  # rotation order
        self._condition = threading.Condition()
        self._started = False  # threads start on first use: importing starts nothing

    def submit(self, owner: str, fn: Callable[[], T]) -> Future[T]:
        future: Future[T] = Future()
        with self._condition:
            if not self._started:
                self._start()
            self._queues.setdefault(owner, deque()).append((fn, future))
            self._condition.notify()
        return future

    def pending(self) -> dict[str, int]:
        """Items waiting (not yet taken by a thread), by owner."""
        with self._condition:
            return {owner: len(queue) for owner, queue in self._queues.items()}

    def _start(self) -> None:
        self._started = True
        for i in range(self.threads):
            threading.Thread(target=self._work, name=f"{self.name}-{i}", daemon=True).start()

    def _next(self) -> _Work:
        """The oldest item of the owner at the front of the rotation; that owner moves to
        the back if it has more."""
        with self._condition:
            while not self._queues:
                self._condition.wait()
            owner, queue = self._queues.popitem(last=False)
            work = queue.popleft()
            if queue:
                self._queues[owner] = queue
            return work

    def _work(self) -> None:
        while True:
            fn, future = self._next()
            if not future.set_running_or_notify_cancel():
                continue  # its request was cancelled (client gone) while it waited
            try:
                result = fn()
            except BaseException as error:  # handed to the awaiting request
                future.set_exception(error)
            else:
                future.set_result(result)


_pool = FairPool(DECODE_THREADS, "sslpt-decode")


async def off_loop(owner: str, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` on the shared pool in ``owner``'s (the tenant's) turn and await it."""
    future = _pool.submit(owner, functools.partial(fn, *args, **kwargs))
    return await asyncio.wrap_future(future)
