"""API keys, tenants and the caller's identity."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field, StrictBool

from api.schemas.common import ORMModel

TENANT_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"


class Identity(BaseModel):
    tenant: str = Field(description="The tenant this key's requests act for.")
    key_prefix: str
    admin: bool = Field(description="May manage the keys of its own tenant.")
    operator: bool = Field(description="The server's operator: manages every tenant.")
    stored_bytes: int = Field(
        description="Bytes the tenant stores under the data directory (uploads, checkpoints, "
        "weights, exports, embeddings)."
    )
    max_storage_bytes: int | None = Field(description="Its storage limit; null: none.")


class TenantUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_active_jobs: int | None = Field(
        None, ge=1, le=100_000, description="Queued + running work; null: the server default."
    )
    max_wall_seconds: int | None = Field(
        None,
        ge=1,
        le=10 * 365 * 24 * 3600,
        description="The most running time one of its jobs may ask for; null: the server's cap.",
    )
    max_storage_bytes: int | None = Field(
        None, ge=1, description="Bytes it may store; null: SSLPT_MAX_STORAGE_BYTES_PER_TENANT."
    )


class TenantOut(ORMModel):
    id: str
    max_active_jobs: int | None
    max_wall_seconds: int | None
    max_storage_bytes: int | None
    created_at: datetime


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tenant: str | None = Field(
        None,
        pattern=TENANT_PATTERN,
        description="Default: the caller's tenant. Another tenant (created if it does not "
        "exist) needs the operator's key.",
    )
    name: str = Field("", max_length=200, description="A label, e.g. who holds the key.")
    admin: StrictBool = Field(False, description="May manage the keys of its own tenant.")
    operator: StrictBool = Field(
        False, description="May manage every tenant; only the operator may grant it."
    )


class KeyOut(ORMModel):
    id: str
    tenant_id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart.")
    admin: bool
    operator: bool
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyOut):
    key: str = Field(description="The key itself. Shown once: it is stored only as a hash.")
