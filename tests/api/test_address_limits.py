"""Requests are rate limited per client address before the key is looked up, so a flood
without a valid key is answered 429 too; trusted proxies name the client."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from api.client_address import client_address
from api.rate_limit import RateLimiter


def test_requests_without_a_valid_key_are_limited_per_address(
    serve: Callable[..., TestClient],
) -> None:
    with serve(address_rate_limit_per_second=0.01, address_rate_limit_burst=5) as client:
        codes = [
            client.get("/v1/datasets", headers={"Authorization": f"Bearer nope-{i}"}).status_code
            for i in range(12)
        ]
        assert codes == [401] * 5 + [429] * 7
        limited = client.get("/v1/datasets")  # the same address with a valid key
        assert limited.status_code == 429
        assert limited.json()["details"]["limit"] == "address" and "Retry-After" in limited.headers
    with serve(address_rate_limit_per_second=0.0) as client:  # 0: no address limit
        assert all(
            client.get("/v1/datasets", headers={"Authorization": "Bearer nope"}).status_code == 401
            for _ in range(30)
        )


def request_from(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    scope = {"type": "http", "headers": headers, "client": (peer, 5000)}
    return Request(scope)


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "client"),
    [
        ("203.0.113.9", "198.51.100.7", [], "203.0.113.9"),  # no trusted proxy: the peer
        ("203.0.113.9", "198.51.100.7", ["10.0.0.0/8"], "203.0.113.9"),  # peer not trusted
        ("10.0.0.2", "198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        # a client's own X-Forwarded-For entries lie left of the first untrusted hop
        ("10.0.0.2", "1.2.3.4, 198.51.100.7", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", "198.51.100.7, 10.0.0.5", ["10.0.0.0/8"], "198.51.100.7"),
        ("10.0.0.2", None, ["10.0.0.0/8"], "10.0.0.2"),
        ("::1", "2001:db8::1", ["::1"], "2001:db8::1"),
    ],
)
def test_the_client_address_believes_only_trusted_proxies(
    peer: str, forwarded: str | None, trusted: list[str], client: str
) -> None:
    assert client_address(request_from(peer, forwarded), trusted) == client


def test_buckets_do_not_grow_without_bound() -> None:
    limiter = RateLimiter(rate=1000.0, burst=2, max_buckets=50)
    for i in range(1000):
        assert limiter.acquire(f"203.0.113.{i}") is None
    assert len(limiter._buckets) <= 50
    assert limiter.acquire("x") is None and limiter.acquire("x") is None
    assert limiter.acquire("x") is not None  # a live bucket still limits
