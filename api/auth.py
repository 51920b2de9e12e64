"""Who is calling: the bearer key of every ``/v1`` request, its tenant and its scope.

``PrincipalDep`` resolves the ``Authorization: Bearer <key>`` header to a live key (401
otherwise), applies the client address's and the key's rate limits (429), and is what
the request's database session is scoped by (``api.deps``). ``AdminDep`` additionally
requires a key that may manage keys: a tenant's admin (its own tenant's keys) or the
operator (every tenant); ``OperatorDep`` requires the operator.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
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


def get_principal(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    """The caller's live key (401 if missing, unknown or revoked), rate limited (429) by
    client address first, so that requests without a valid key are limited too, then by
    key."""
    settings: Settings = request.app.state.settings
    address = client_address(request, settings.trusted_proxies)
    rate_limited(request.app.state.address_rate_limiter, address, "address")
    principal = lookup_key(settings, bearer_token(request, credentials))
    if principal is None:
        raise unauthorized("invalid_api_key", "the API key is unknown or revoked")
    rate_limited(request.app.state.rate_limiter, principal.key_id, "key")
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


def require_admin(principal: PrincipalDep) -> Principal:
    if not (principal.admin or principal.operator):
        raise ApiError(403, "admin_required", "this route needs a key with the admin scope")
    return principal


AdminDep = Annotated[Principal, Depends(require_admin)]


def operator_required() -> ApiError:
    return ApiError(403, "operator_required", "only the server's operator key may do this")


def require_operator(principal: AdminDep) -> Principal:
    if not principal.operator:
        raise operator_required()
    return principal


OperatorDep = Annotated[Principal, Depends(require_operator)]
