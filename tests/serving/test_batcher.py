"""DynamicBatcher: merging, the wait rule, admission bounds, errors and shutdown."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import pytest
import torch
from torch import Tensor

from api.serving.batcher import BatcherClosedError, BatchingConfig, DynamicBatcher, QueueFullError
from ssl_engine.precision import Precision


class RecordingForward:
    """(B, 3, 1, 1) -> (B, 2): each row's first pixel and the batch size, so a caller can
    check it got its own rows; optionally blocks until ``gate`` is set."""

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.batch_sizes: list[int] = []
        self.precisions: list[str] = []
        self.started = threading.Event()

    def __call__(self, images: Tensor, precision: str) -> Tensor:
        self.started.set()
        if self.gate is not None:
            assert self.gate.wait(10)
        self.batch_sizes.append(len(images))
        self.precisions.append(precision)
        first = images[:, 0, 0, 0]  # (B,)
        return torch.stack([first, torch.full_like(first, len(images))], dim=1)  # (B, 2)


def images(*values: float) -> Tensor:
    return torch.tensor(values).view(-1, 1, 1, 1).expand(-1, 3, 1, 1).clone()  # (n, 3, 1, 1)


def batcher(forward: Callable[[Tensor, str], Tensor], **config: float) -> DynamicBatcher:
    return DynamicBatcher(forward, BatchingConfig(**config), "model")  # type: ignore[arg-type]


async def embed(b: DynamicBatcher, x: Tensor, precision: Precision = "bf16") -> Tensor:
    with b.admit() as slot:
        return await slot.embed(x, precision)


def test_requests_arriving_while_the_device_is_busy_share_the_next_batch() -> None:
    gate = threading.Event()
    forward = RecordingForward(gate)
    b = batcher(forward, max_batch=8, max_wait_s=0.0)

    async def scenario() -> list[Tensor]:
        first = asyncio.ensure_future(embed(b, images(0.0)))
        await asyncio.to_thread(forward.started.wait, 5)  # the worker holds request 0
        rest = [asyncio.ensure_future(embed(b, images(v, v + 0.5))) for v in (1.0, 2.0, 3.0)]
        while b.queued < 3:
            await asyncio.sleep(0.001)
        gate.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(scenario())
    assert forward.batch_sizes == [1, 6]  # three requests of two images merged
    assert results[0].tolist() == [[0.0, 1.0]]
    for value, result in zip((1.0, 2.0, 3.0), results[1:], strict=True):
        assert result.tolist() == [[value, 6.0], [value + 0.5, 6.0]]  # its own rows, in order
    b.close()


def test_requests_at_another_precision_start_another_batch_in_arrival_order() -> None:
    gate = threading.Event()
    forward = RecordingForward(gate)
    b = batcher(forward, max_batch=8, max_wait_s=0.0)

    async def scenario() -> list[Tensor]:
        first = asyncio.ensure_future(embed(b, images(0.0)))
        await asyncio.to_thread(forward.started.wait, 5)
        precisions: list[Precision] = ["bf16", "bf16", "fp32", "fp32", "bf16"]
        rest = []
        for value, precision in enumerate(precisions, start=1):
            rest.append(asyncio.ensure_future(embed(b, images(float(value)), precision)))
            while b.queued < value:  # queued in this order
                await asyncio.sleep(0.001)
        gate.set()
        return await asyncio.gather(first, *rest)

    results = asyncio.run(scenario())
    assert forward.precisions == ["bf16", "bf16", "fp32", "bf16"]
    assert forward.batch_sizes == [1, 2, 2, 1]  # never a mixed batch, never reordered
    assert [r[0, 0].item() for r in results] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    b.close()


def test_a_lone_request_on_an_idle_batcher_does_not_wait() -> None:
    b = batcher(RecordingForward(), max_batch=8, max_wait_s=5.0)
    start = time.perf_counter()
    assert asyncio.run(embed(b, images(1.0))).tolist() == [[1.0, 1.0]]
    assert time.perf_counter() - start < 2.0  # far below max_wait
    b.close()


def test_a_batch_waits_for_admitted_requests_still_decoding() -> None:
    forward = RecordingForward()
    b = batcher(forward, max_batch=8, max_wait_s=5.0)

    async def scenario() -> None:
        with b.admit() as early, b.admit() as late:  # both admitted: two decodes in sight
            first = asyncio.ensure_future(early.embed(images(1.0), "bf16"))
            await asyncio.sleep(0.2)  # the second is still "decoding"
            second = await late.embed(images(2.0), "bf16")
            assert (await first).tolist() == [[1.0, 2.0]]
            assert second.tolist() == [[2.0, 2.0]]

    asyncio.run(scenario())
    assert forward.batch_sizes == [2]
    b.close()


def test_a_request_that_fails_while_decoding_does_not_hold_the_batch() -> None:
    b = batcher(RecordingForward(), max_batch=8, max_wait_s=30.0)

    async def scenario() -> float:
        with b.admit() as good:
            bad = b.admit()
            pending = asyncio.ensure_future(good.embed(images(1.0), "bf16"))
            await asyncio.sleep(0.2)
            assert not pending.done()  # the batch waits for the other decode in sight
            start = time.perf_counter()
            with pytest.raises(ValueError), bad:
                raise ValueError("undecodable image")
            await pending
            return time.perf_counter() - start

    assert asyncio.run(scenario()) < 5.0
    b.close()


def test_admission_beyond_max_queue_is_refused_until_a_slot_frees() -> None:
    b = batcher(RecordingForward(), max_queue=2)
    first, second = b.admit(), b.admit()
    with pytest.raises(QueueFullError):
        b.admit()
    assert b.in_flight == 2
    first.__exit__(None, None, None)
    third = b.admit()
    for slot in (second, third):
        slot.__exit__(None, None, None)
    assert b.in_flight == 0
    b.close()


def test_a_forward_error_reaches_every_request_of_the_batch() -> None:
    def broken(_images: Tensor, _precision: str) -> Tensor:
        raise RuntimeError("device lost")

    b = batcher(broken)

    async def scenario() -> list[BaseException | Tensor]:
        return await asyncio.gather(
            embed(b, images(1.0)), embed(b, images(2.0)), return_exceptions=True
        )

    results = asyncio.run(scenario())
    assert all(isinstance(r, RuntimeError) and "device lost" in str(r) for r in results)
    b.close()


def test_a_request_larger_than_max_batch_runs_in_chunks() -> None:
    forward = RecordingForward()
    b = batcher(forward, max_batch=2)
    result = asyncio.run(embed(b, images(1.0, 2.0, 3.0, 4.0, 5.0)))
    assert forward.batch_sizes == [2, 2, 1]
    assert result[:, 0].tolist() == [1.0, 2.0, 3.0, 4.0, 5.0]
    b.close()


def test_close_answers_admitted_requests_then_refuses_new_ones() -> None:
    b = batcher(RecordingForward())

    async def scenario() -> Tensor:
        with b.admit() as slot:
            b.close()
            return await slot.embed(images(7.0), "fp32")

    assert asyncio.run(scenario()).tolist() == [[7.0, 1.0]]
    b.join(timeout=5)
    with pytest.raises(BatcherClosedError):
        b.admit()
