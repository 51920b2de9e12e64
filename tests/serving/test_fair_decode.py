"""The decode pool serves tenants in turn: one tenant's backlog cannot hold another's image."""

from __future__ import annotations

import threading
from concurrent.futures import Future

from api.serving.threads import FairPool


def test_a_tenant_waits_for_one_item_of_each_other_tenant_not_for_their_backlog() -> None:
    pool = FairPool(1, "test-fair")
    started, gate = threading.Event(), threading.Event()
    order: list[str] = []

    def work(name: str) -> None:
        started.set()
        gate.wait(5)
        order.append(name)

    first = pool.submit("a", lambda: work("a0"))
    assert started.wait(5)  # the only thread is busy with a0
    futures: list[Future[None]] = [first]
    futures += [pool.submit("a", lambda i=i: work(f"a{i}")) for i in range(1, 6)]
    futures += [pool.submit("b", lambda: work("b0")), pool.submit("c", lambda: work("c0"))]
    assert pool.pending() == {"a": 5, "b": 1, "c": 1}
    gate.set()
    for future in futures:
        future.result(5)
    # First in, first out would be a0..a5, b0, c0: b and c would wait for a's whole backlog.
    assert order == ["a0", "a1", "b0", "c0", "a2", "a3", "a4", "a5"]


def test_an_error_reaches_its_caller_and_the_pool_goes_on() -> None:
    pool = FairPool(1, "test-errors")

    def fail() -> None:
        raise ValueError("bad image")

    failed = pool.submit("a", fail)
    fine = pool.submit("a", lambda: 7)
    assert isinstance(failed.exception(5), ValueError)
    assert fine.result(5) == 7


def test_a_cancelled_item_is_skipped() -> None:
    pool = FairPool(1, "test-cancel")
    gate = threading.Event()
    ran: list[str] = []
    blocker = pool.submit("a", lambda: gate.wait(5))
    cancelled = pool.submit("b", lambda: ran.append("cancelled"))
    assert cancelled.cancel()
    after = pool.submit("b", lambda: ran.append("after"))
    gate.set()
    blocker.result(5)
    after.result(5)
    assert ran == ["after"]
