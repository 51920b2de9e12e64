"""Tables: tenants, api_keys, datasets, jobs, job_events, metrics, models, evaluations,
dataset_embeddings, workers. Alembic creates them.

Every row a user creates belongs to a tenant: the ``TenantOwned`` tables carry
``tenant_id`` themselves; metrics and job events belong to their job's tenant.
``api.core.persistence.tenancy`` filters every query of a tenant's session by it.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    false,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, declared_attr, mapped_column
from sqlalchemy.types import TypeDecorator


def utcnow() -> datetime:
    return datetime.now(UTC)


def new_id() -> str:
    return uuid.uuid4().hex


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite keeps no zone of its own)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        if value is not None and dialect.name == "sqlite":
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class JobStatus(StrEnum):
    """docs/architecture.md, "Job states": queued -> running -> succeeded | failed | cancelled."""

    QUEUED = "queued"
    RUNNING = "running"
    CANCELLING = "cancelling"
    INTERRUPTED = "interrupted"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATUSES = frozenset({JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED})


class Base(DeclarativeBase):
    pass


LOCAL_TENANT = "local"  # the tenant of the embedded single-user mode and of pre-tenant rows


class Tenant(Base):
    """A team: it owns datasets, jobs, models and their artifacts, and has API keys."""

    __tablename__ = "tenants"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)  # a slug, also in paths
    max_active_jobs: Mapped[int | None] = mapped_column(Integer)  # None: the server default
    max_wall_seconds: Mapped[int | None] = mapped_column(Integer)  # None: the server's cap
    max_storage_bytes: Mapped[int | None] = mapped_column(BigInteger)  # None: the default
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class ApiKey(Base):
    """A bearer key, stored as its SHA-256 (keys are random, so no slow hash is needed).

    ``admin`` lets a key manage the keys of its own tenant; ``operator`` (the server's
    operator) lets it manage tenants, their quotas and every tenant's keys. On data routes
    every key, an operator's included, acts for its own tenant only.

    ``prefix`` (the key's first characters) is what listings show and what ``revoke``
    accepts; the key itself is shown once, when it is created.
    """

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    prefix: Mapped[str] = mapped_column(String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    admin: Mapped[bool] = mapped_column(Boolean, default=False)  # manages its tenant's keys
    operator: Mapped[bool] = mapped_column(Boolean, default=False)  # manages every tenant
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class TenantOwned:
    """Mixin: the row belongs to one tenant; a tenant's session sees only its own rows."""

    @declared_attr
    def tenant_id(cls) -> Mapped[str]:
        return mapped_column(ForeignKey("tenants.id"), index=True)


class LeasedTask:
    """Mixin: a worker's claim on an ingest, a probe or a dataset embedding, as jobs have one.

    ``queued_at`` is when it was last sent to the workers (the reconciler sends a row
    nobody claimed again, and re-queues one whose lease ran out).
    """

    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED, index=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=utcnow)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class Dataset(LeasedTask, TenantOwned, Base):
    """A folder of images (registered by path, or unpacked from an upload).

    Its scan is work an ingest worker does, never the API: the row is created ``queued``
    (shown as ``ingesting``), claimed with a lease like a probe, and ends ``succeeded``
    (``ready``, with the scan's counts) or ``failed`` (with the reason). ``source_archive``
    is the uploaded archive waiting under the tenant's ``incoming/`` folder until then.
    """

    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    path: Mapped[str] = mapped_column(Text)
    source_archive: Mapped[str | None] = mapped_column(Text)
    image_count: Mapped[int] = mapped_column(Integer, default=0)
    classes: Mapped[list[Any]] = mapped_column(JSON, default=list)
    class_counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    unreadable: Mapped[list[Any]] = mapped_column(JSON, default=list)
    size_stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    total_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    # Deleted: the row stays for the work that names it; every route treats it as missing.
    deleted_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    @property
    def state(self) -> str:
        """What users see: ``ingesting``, ``ready`` or ``failed``."""
        return DATASET_STATES.get(self.status, "ingesting")


DATASET_STATES: dict[str, str] = {JobStatus.SUCCEEDED: "ready", JobStatus.FAILED: "failed"}


class Job(TenantOwned, Base):
    __tablename__ = "jobs"
    __table_args__ = (
        Index("ix_jobs_status_created", "status", "created_at"),
        # an Idempotency-Key is the client's own name: unique within its tenant only
        UniqueConstraint("tenant_id", "idempotency_key", name="uq_jobs_tenant_idempotency_key"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    method: Mapped[str] = mapped_column(String(64))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    eval_dataset_id: Mapped[str | None] = mapped_column(ForeignKey("datasets.id"))
    backbone: Mapped[str] = mapped_column(String(64))
    image_size: Mapped[int] = mapped_column(Integer)
    epochs: Mapped[int] = mapped_column(Integer)
    batch_size: Mapped[int] = mapped_column(Integer)
    seed: Mapped[int] = mapped_column(Integer)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    training: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    status: Mapped[str] = mapped_column(String(16), default=JobStatus.QUEUED)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    lease_owner: Mapped[str | None] = mapped_column(String(200))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    epoch: Mapped[int] = mapped_column(Integer, default=0)
    step: Mapped[int] = mapped_column(Integer, default=0)
    total_steps: Mapped[int] = mapped_column(Integer, default=0)
    images_per_sec: Mapped[float | None] = mapped_column(Float)
    eta_seconds: Mapped[float | None] = mapped_column(Float)
    latest_metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    failure_reason: Mapped[str | None] = mapped_column(Text)
    wall_seconds: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    max_wall_seconds: Mapped[int | None] = mapped_column(Integer)  # None: no limit
    # Only a worker with a GPU claims it; its message goes to the GPU workers' queue.
    needs_gpu: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # The model whose encoder the job starts from; None: from scratch (or it was deleted
    # after the job finished).
    parent_model_id: Mapped[str | None] = mapped_column(String(32))
    model_id: Mapped[str | None] = mapped_column(String(32))
    idempotency_key: Mapped[str | None] = mapped_column(String(200))
    request_hash: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


class JobEvent(Base):
    __tablename__ = "job_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # "transition" or a trainer event name
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str | None] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Metric(Base):
    __tablename__ = "metrics"
    __table_args__ = (
        UniqueConstraint("job_id", "step", "name", name="uq_metrics_job_step_name"),
        Index("ix_metrics_job_step", "job_id", "step"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id", ondelete="CASCADE"))
    step: Mapped[int] = mapped_column(Integer)
    epoch: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(64))
    value: Mapped[float] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class TrainedModel(TenantOwned, Base):
    __tablename__ = "models"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    job_id: Mapped[str] = mapped_column(ForeignKey("jobs.id"), unique=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    method: Mapped[str] = mapped_column(String(64))
    backbone: Mapped[str] = mapped_column(String(64))
    image_size: Mapped[int] = mapped_column(Integer)
    hyperparameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    embed_dim: Mapped[int] = mapped_column(Integer)
    weights_path: Mapped[str] = mapped_column(Text)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    parent_model_id: Mapped[str | None] = mapped_column(String(32))  # None once deleted
    # Ancestors, nearest first, as they were when this model was published: each a dict
    # of model_id, job_id, method, backbone, dataset_id; kept when an ancestor is deleted.
    lineage: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list, server_default="[]")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class Evaluation(LeasedTask, TenantOwned, Base):
    """A linear probe of a model on a labeled dataset; statuses are a subset of JobStatus."""

    __tablename__ = "evaluations"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"), index=True)
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    top1: Mapped[float | None] = mapped_column(Float)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class DatasetEmbedding(LeasedTask, TenantOwned, Base):
    """A dataset embedded by a model, with a vector index for search.

    Statuses are a subset of JobStatus. ``path`` is the artifacts folder holding
    ``vectors.npy`` (N, D), ``items.json`` (each row's file and label) and ``index.faiss``.
    """

    __tablename__ = "dataset_embeddings"
    __table_args__ = (Index("ix_dataset_embeddings_model_dataset", "model_id", "dataset_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    model_id: Mapped[str] = mapped_column(ForeignKey("models.id", ondelete="CASCADE"))
    dataset_id: Mapped[str] = mapped_column(ForeignKey("datasets.id"))
    item_count: Mapped[int] = mapped_column(Integer, default=0)
    dim: Mapped[int | None] = mapped_column(Integer)
    index_kind: Mapped[str | None] = mapped_column(String(16))
    path: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class Worker(Base):
    """A worker process, by the name it holds leases under (``host:pid``); see
    ``api.core.persistence.workers``."""

    __tablename__ = "workers"

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    host: Mapped[str] = mapped_column(String(200))
    pid: Mapped[int] = mapped_column(Integer)
    queue: Mapped[str] = mapped_column(String(64))
    device: Mapped[str] = mapped_column(String(32))
    device_name: Mapped[str | None] = mapped_column(String(200))
    device_memory_bytes: Mapped[int | None] = mapped_column(BigInteger)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    stop_reason: Mapped[str | None] = mapped_column(Text)
    tasks_done: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
