"""The address a request comes from: the socket peer, or the client a trusted proxy names.

A reverse proxy connects from its own address and names the client in
``X-Forwarded-For`` (each proxy appends the address it was connected from). Only hops the
operator listed in ``SSLPT_TRUSTED_PROXIES`` are believed: walking the header from the
right, the first address that is not a trusted proxy is the client. A client cannot
choose its address by sending the header itself, since its own entries lie left of the
first untrusted hop.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from functools import lru_cache

from starlette.requests import Request

Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNKNOWN = "unknown"  # no socket peer (an in-process test client): one shared bucket


@lru_cache(maxsize=16)
def parse_networks(trusted: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in trusted)


def _trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(request: Request, trusted_proxies: Sequence[str]) -> str:
    """The client's address for per-address limits (see the module docstring)."""
    peer = request.client.host if request.client else UNKNOWN
    networks = parse_networks(tuple(trusted_proxies))
    if not networks or not _trusted(peer, networks):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not _trusted(hop, networks):
            return hop[:64]
    return hops[0][:64] if hops else peer  # every hop trusted: the leftmost is the client
