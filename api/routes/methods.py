"""The method zoo, read from ssl_engine's registry."""

from __future__ import annotations

from fastapi import APIRouter

from api.errors import not_found
from api.method_catalog import describe_methods
from api.schemas.methods import MethodOut

router = APIRouter(prefix="/v1/methods", tags=["methods"])


@router.get("", response_model=list[MethodOut])
def list_methods() -> tuple[MethodOut, ...]:
    """Every method: family, collapse prevention, paper and hyperparameter JSON schema."""
    return describe_methods()


@router.get("/{name}", response_model=MethodOut)
def get_method(name: str) -> MethodOut:
    """One method by name."""
    for method in describe_methods():
        if method.name == name:
            return method
    raise not_found("method", name)
