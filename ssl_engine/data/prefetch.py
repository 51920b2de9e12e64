"""Run an iterator in a background thread, one item ahead of its consumer."""

from __future__ import annotations

import queue
import threading
from collections.abc import Generator, Iterator
from typing import TypeVar, cast

T = TypeVar("T")

_POLL_SECONDS = 0.1  # how often a blocked producer checks whether the consumer left


def prefetch(items: Iterator[T], depth: int = 1) -> Generator[T, None, None]:
    """Yield ``items`` while a daemon thread computes the next ``depth`` of them.

    Exceptions raised by the producer re-raise in the consumer. Closing the returned
    generator early (``break``, garbage collection) stops and joins the thread.
    """
    slots: queue.Queue[tuple[str, object]] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(kind: str, payload: object) -> bool:
        while not stop.is_set():
            try:
                slots.put((kind, payload), timeout=_POLL_SECONDS)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put("item", item):
                    return
            put("done", None)
        except BaseException as error:  # handed to the consumer, which re-raises it
            put("error", error)

    thread = threading.Thread(target=produce, name="batch-prefetch", daemon=True)
    thread.start()
    try:
        while True:
            kind, payload = slots.get()
            if kind == "done":
                return
            if kind == "error":
                raise cast(BaseException, payload)
            yield cast(T, payload)
    finally:
        stop.set()
        thread.join()
