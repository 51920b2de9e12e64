"""Dynamic batching: concurrent embed requests for one model share device batches.

A request is first *admitted* (refused with ``QueueFullError``, a 429, once ``max_queue``
requests of the model are in flight), decodes its images off the event loop, then is
*queued*. One worker thread per model takes queued requests in arrival order, up to
``max_batch`` images of one precision, runs one forward pass and hands every request its
own rows.

The worker never waits for company that is not coming: it waits (at most ``max_wait``)
only while admitted requests are still decoding. A lone request on an idle server runs at
once; under load, requests that arrive while the device is busy, or that are decoding
when a batch forms, join the next batch. This is the continuous batching of serving
systems such as Triton's dynamic batcher and TEI, with the wait tied to work in sight.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

import torch
from torch import Tensor

from api.serving import metrics
from ssl_engine.precision import Precision


class QueueFullError(Exception):
    """The model already has ``max_queue`` requests in flight; the caller should retry."""


class BatcherClosedError(Exception):
    """The batcher's model was evicted and its worker has stopped; look the model up again."""


@dataclass(frozen=True)
class BatchingConfig:
    max_batch: int = 32  # images per forward pass
    max_wait_s: float = 0.005  # longest a batch waits for requests still decoding
    max_queue: int = 64  # requests in flight per model (decoding, queued or running)


@dataclass
class _Queued:
    images: Tensor  # (n, 3, S, S) float32 in [0, 1]
    precision: Precision  # requests of another precision go in another batch
    future: Future[Tensor]  # (n, D) float32 on the CPU


class Slot:
    """One admitted request's place in its batcher: ``with slot:`` holds it, ``embed`` once."""

    def __init__(self, batcher: DynamicBatcher) -> None:
        self._batcher = batcher
        self.queued = False

    def __enter__(self) -> Slot:
        return self

    def __exit__(self, *_exc: object) -> None:
        self._batcher._release(self)

    async def embed(self, images: Tensor, precision: Precision) -> Tensor:
        """(n, 3, S, S) images -> (n, D) float32 embeddings computed at ``precision`` in a
        shared batch."""
        if self.queued:
            raise RuntimeError("a slot embeds one request")
        self.queued = True
        return await asyncio.wrap_future(self._batcher._enqueue(images, precision))


class DynamicBatcher:
    """Merge concurrent requests for one model into batches of at most ``max_batch`` images.

    ``forward`` maps (B, 3, S, S) CPU images and a precision to (B, D) CPU float32 vectors
    and is only ever called from the batcher's own thread.
    """

    def __init__(
        self, forward: Callable[[Tensor, Precision], Tensor], config: BatchingConfig, model_id: str
    ) -> None:
        self.config = config
        self.model_id = model_id
        self._forward = forward
        self._queue: deque[_Queued] = deque()
        self._condition = threading.Condition()
        self._admitted = 0  # admitted requests not yet answered
        self._decoding = 0  # admitted requests not yet queued
        self._closing = False
        self._stopped = False
        self._thread = threading.Thread(
            target=self._work, name=f"batcher-{model_id[:8]}", daemon=True
        )
        self._thread.start()

    @property
    def in_flight(self) -> int:
        """Requests admitted and not yet answered."""
        return self._admitted

    @property
    def decoding(self) -> int:
        """Requests admitted and not yet queued (their images are being read or decoded)."""
        return self._decoding

    @property
    def queued(self) -> int:
        """Requests decoded and waiting for the device."""
        return len(self._queue)

    def admit(self) -> Slot:
        """Reserve a place for one request; release it by leaving ``with slot:``."""
        with self._condition:
            if self._stopped:
                raise BatcherClosedError(self.model_id)
            if self._admitted >= self.config.max_queue:
                raise QueueFullError(self.model_id)
            self._admitted += 1
            self._decoding += 1
            metrics.QUEUE_DEPTH.labels(self.model_id).set(self._admitted)
        return Slot(self)

    def _release(self, slot: Slot) -> None:
        with self._condition:
            self._admitted -= 1
            if not slot.queued:  # failed while decoding: no batch may wait for it
                self._decoding -= 1
            metrics.QUEUE_DEPTH.labels(self.model_id).set(self._admitted)
            self._condition.notify_all()

    def close(self) -> None:
        """Stop once every admitted request is answered; new admissions are refused after."""
        with self._condition:
            self._closing = True
            self._condition.notify_all()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)

    def _enqueue(self, images: Tensor, precision: Precision) -> Future[Tensor]:
        future: Future[Tensor] = Future()
        with self._condition:
            self._decoding -= 1
            self._queue.append(_Queued(images, precision, future))
            self._condition.notify_all()
        return future

    def _work(self) -> None:
        while (batch := self._next_batch()) is not None:
            self._run(batch)

    def _next_batch(self) -> list[_Queued] | None:
        """Block for the next batch; None once closing with nothing left in flight."""
        with self._condition:
            batch: list[_Queued] = []
            size = 0
            while not batch:
                while not self._queue:
                    if self._closing and self._admitted == 0:
                        self._stopped = True
                        return None
                    self._condition.wait()
                size = self._take(batch, size)
            deadline = time.monotonic() + self.config.max_wait_s
            while size < self.config.max_batch:
                if self._queue:
                    following = self._queue[0]
                    if (
                        size + len(following.images) > self.config.max_batch
                        or following.precision != batch[0].precision
                    ):
                        break  # the next request starts the next batch, in order
                    size = self._take(batch, size)
                    continue
                remaining = deadline - time.monotonic()
                if self._decoding == 0 or remaining <= 0:
                    break
                self._condition.wait(remaining)
            return batch

    def _take(self, batch: list[_Queued], size: int) -> int:
        """Move the oldest request into ``batch`` unless its caller has gone away."""
        item = self._queue.popleft()
        if not item.future.set_running_or_notify_cancel():
            return size  # the client disconnected while it waited: nothing to compute
        batch.append(item)
        return size + len(item.images)

    def _run(self, batch: list[_Queued]) -> None:
        sizes = [len(item.images) for item in batch]
        images = torch.cat([item.images for item in batch])  # (B, 3, S, S)
        precision = batch[0].precision
        try:
            vectors = torch.cat(
                [
                    self._timed_forward(chunk, precision)
                    for chunk in images.split(self.config.max_batch)
                ]
            )  # (B, D); a single request larger than max_batch runs in chunks
        except Exception as error:
            for item in batch:
                item.future.set_exception(error)
            return
        for item, rows in zip(batch, vectors.split(sizes), strict=True):
            item.future.set_result(rows)

    def _timed_forward(self, images: Tensor, precision: Precision) -> Tensor:
        start = time.perf_counter()
        vectors = self._forward(images, precision)  # (b, D)
        metrics.FORWARD_SECONDS.labels(self.model_id).observe(time.perf_counter() - start)
        metrics.BATCH_SIZE.labels(self.model_id).observe(len(images))
        metrics.EMBED_IMAGES.labels(self.model_id).inc(len(images))
        return vectors
