"""A thread pool for CPU work of requests (decoding, base64, parsing), off the event loop.

Pillow decodes and resizes without holding the GIL, so a few threads decode in parallel
while the event loop keeps accepting requests. The pool is bounded, so a burst of large
uploads queues here instead of oversubscribing the cores the model needs.
"""

from __future__ import annotations

import asyncio
import functools
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

DECODE_THREADS = max(2, os.cpu_count() or 1)
_pool = ThreadPoolExecutor(DECODE_THREADS, thread_name_prefix="sslpt-decode")


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` on the decode pool and await its result."""
    call = functools.partial(fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool, call)
