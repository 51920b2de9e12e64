"""Who is calling: the bearer key of every ``/v1`` request, its tenant and its scope.

``PrincipalDep`` resolves the ``Authorization: Bearer <key>`` header to a live key (401
otherwise), applies the client address's and the key's rate limits (429), and is what
the request's database session is scoped by (``api.deps``). ``AdminDep`` additionally
requires a key that may manage keys: a tenant's admin (its own tenant's keys) or the
operator (every tenant); ``OperatorDep`` requires the operator.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.client_address import client_address
from api.core.persistence import api_keys
from api.core.persistence.db import session_scope
from api.core.settings import Settings
from api.errors import ApiError
from api.rate_limit import RateLimiter, retry_after_header

CHALLENGE = {"WWW-Authenticate": 'Bearer realm="sslpt"'}
# Parses the header and declares the scheme in the OpenAPI description (the "Authorize"
# button of /docs); auto_error is off so that every failure is our JSON 401.
BEARER = HTTPBearer(
    auto_error=False, description="An API key: `sslpt keys create`, or printed by `sslpt up`."
)


@dataclass(frozen=True)
class Principal:
    key_id: str
    key_prefix: str
    tenant_id: str
    admin: bool
    operator: bool = False

    def may_manage(self, tenant_id: str) -> bool:
        """Whether this key may manage ``tenant_id``'s keys: the operator any tenant's, a
        tenant admin its own tenant's only."""
        return self.operator or (self.admin and tenant_id == self.tenant_id)


def unauthorized(code: str, message: str) -> ApiError:
    return ApiError(401, code, message, headers=CHALLENGE)


def bearer_token(request: Request, credentials: HTTPAuthorizationCredentials | None) -> str:
    """The key of a ``Bearer`` header (as ``HTTPBearer`` parsed it), or the 401 that fits."""
    if credentials is not None:
        return credentials.credentials
    if request.headers.get("authorization"):
        raise unauthorized("invalid_authorization", "expected Authorization: Bearer <key>")
    raise unauthorized(
        "missing_api_key", "this route needs an API key: Authorization: Bearer <key>"
    )


def lookup_key(settings: Settings, token: str) -> Principal | None:
    """The live key ``token`` names, or None."""
    with session_scope(settings.resolved_database_url, tenant=None) as session:
        key = api_keys.authenticate(session, token)
        if key is None:
            return None
        return Principal(key.id, key.prefix, key.tenant_id, key.admin, key.operator)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class KnownKeys:
    """Keys this process found live within the last ``recheck_seconds``, by their hash, so
    that a client's stream of requests costs one key lookup every few seconds, not one per
    request. A key revoked through this process is forgotten at once (``forget``); one
    revoked elsewhere (another API process, ``sslpt keys revoke``) is refused from its next
    recheck. Unknown keys are never remembered."""

    def __init__(self, recheck_seconds: float, capacity: int = 10_000) -> None:
        self.recheck_seconds = recheck_seconds
        self.capacity = capacity
        self._lock = threading.Lock()
        self._known: dict[str, tuple[Principal, float]] = {}  # token hash -> (key, checked)

    def recent(self, token: str) -> Principal | None:
        """The key ``token`` names if it was found live within ``recheck_seconds``, else
        None (no database query: safe on the event loop)."""
        with self._lock:
            known = self._known.get(_digest(token))
        if known is not None and time.monotonic() - known[1] <= self.recheck_seconds:
            return known[0]
        return None

    def lookup(self, settings: Settings, token: str) -> Principal | None:
        """The live key ``token`` names, read from the database and remembered, or None."""
        digest, now = _digest(token), time.monotonic()
        principal = lookup_key(settings, token)
        with self._lock:
            if principal is None:
                self._known.pop(digest, None)
                return None
            if len(self._known) >= self.capacity:
                self._drop_stale(now)
            self._known[digest] = (principal, now)
        return principal

    def forget(self, key_id: str) -> None:
        """Check ``key_id`` against the database on its next request (it was revoked)."""
        with self._lock:
            self._known = {h: v for h, v in self._known.items() if v[0].key_id != key_id}

    def _drop_stale(self, now: float) -> None:
        fresh = {h: v for h, v in self._known.items() if now - v[1] <= self.recheck_seconds}
        self._known = fresh if len(fresh) < self.capacity else {}


def rate_limited(limiter: RateLimiter, bucket: str, who: str) -> None:
    """Take a token from ``bucket``; a 429 with Retry-After when it is empty."""
    wait = limiter.acquire(bucket)
    if wait is not None:
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests for this {who}; retry in {wait:.1f} s",
            {"retry_after_seconds": round(wait, 2), "limit": who},
            headers=retry_after_header(wait),
        )


async def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    """The caller's live key (401 if missing, unknown or revoked), rate limited (429) by
    client address first, so that requests without a valid key are limited too, then by
    key. A key checked recently is not read again (``KnownKeys``); a database read runs
    off the event loop."""
    settings: Settings = request.app.state.settings
    address = client_address(request, settings.trusted_proxies)
    rate_limited(request.app.state.address_rate_limiter, address, "address")
    known_keys: KnownKeys = request.app.state.known_keys
    token = bearer_token(request, credentials)
    principal = known_keys.recent(token)
    if principal is None:
        principal = await run_in_threadpool(known_keys.lookup, settings, token)
    if principal is None:
        raise unauthorized("invalid_api_key", "the API key is unknown or revoked")
    rate_limited(request.app.state.rate_limiter, principal.key_id, "key")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_admin(principal: PrincipalDep) -> Principal:
    if not (principal.admin or principal.operator):
        raise ApiError(403, "admin_required", "this route needs a key with the admin scope")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def operator_required() -> ApiError:
    return ApiError(403, "operator_required", "only the server's operator key may do this")


async def require_operator(principal: AdminDep) -> Principal:
    if not principal.operator:
        raise operator_required()
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]
