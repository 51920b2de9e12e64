"""One settings object for every process (API, worker, CLI), read from ``SSLPT_*``."""

from __future__ import annotations

import ipaddress
import os
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from ssl_engine.precision import RequestedPrecision


class Settings(BaseSettings):
    """Defaults give the embedded mode: SQLite + kombu filesystem broker under data_dir."""

    model_config = SettingsConfigDict(env_prefix="SSLPT_", env_file=".env", extra="ignore")

    data_dir: Path = Field(Path(".sslpt"), description="Artifacts, caches, SQLite, broker.")
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default sqlite:///<data_dir>/sslpt.db."
    )
    broker_url: str | None = Field(
        None, description="Celery broker; default kombu filesystem:// under data_dir."
    )
    host: str = Field("127.0.0.1", description="Address the API listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port the API listens on.")
    api_url: str | None = Field(None, description="Where the CLI finds the API.")
    api_key: str | None = Field(
        None, description="The CLI's API key; default: the key `sslpt up` wrote locally."
    )
    device: str = Field("auto", description="Training/serving device: auto, cpu, cuda, cuda:N.")
    torch_threads: int = Field(0, ge=0, description="torch CPU threads; 0 = torch default.")
    lease_seconds: int = Field(120, ge=5, description="A running job's lease length.")
    max_job_attempts: int = Field(3, ge=1, description="Tries before a lost job fails.")
    reconcile_interval_seconds: float = Field(
        30.0, gt=0, description="How often the API re-queues jobs whose worker was lost."
    )
    max_embed_images: int = Field(64, ge=1, description="Images per embed request.")
    max_upload_bytes: int = Field(32 * 1024 * 1024, ge=1024, description="Per embed request.")
    model_cache_size: int = Field(4, ge=1, description="Models kept loaded for serving.")
    model_cache_mb: int = Field(
        2048, ge=1, description="Memory budget (weights) of the loaded models; LRU evicts."
    )
    embed_max_batch: int = Field(32, ge=1, description="Images per merged device batch.")
    embed_max_wait_ms: float = Field(
        5.0, ge=0, description="Longest a batch waits for requests still decoding (not when idle)."
    )
    embed_max_queue: int = Field(
        64, ge=1, description="Embed requests in flight per model; more are answered 429."
    )
    serving_precision: RequestedPrecision = Field(
        "auto",
        description="Precision of embeddings and energies served, and of dataset embeddings: "
        "auto = bf16 where the device has bf16 kernels (fp16 on other GPUs), else fp32; a "
        "request may ask for fp32 (float32-exact vectors) or bf16.",
    )
    search_exact_max_items: int = Field(
        100_000, ge=1, description="Datasets up to this size get an exact index, larger HNSW."
    )
    progress_every_steps: int = Field(5, ge=1, description="Metrics/progress write interval.")
    requeue_waiting_after_seconds: float = Field(
        300.0,
        gt=0,
        description="Re-send a queued/interrupted job no worker claimed for this long (a "
        "broker that restarted empty loses its messages; a duplicate is a no-op).",
    )
    max_bad_image_fraction: float = Field(
        0.1, ge=0, le=1, description="A job fails when more of its images are unreadable."
    )

    dataset_roots: Annotated[list[Path], NoDecode] = Field(
        default_factory=list,
        description="Server folders under which datasets may be registered by path "
        "(os.pathsep-separated, e.g. /data/a:/data/b); empty: only uploads.",
    )
    job_wall_seconds: int = Field(
        24 * 3600,
        ge=1,
        description="A job's running time (summed over its attempts) when it asks for none; "
        "at it the job is checkpointed and fails with wall_time_exceeded.",
    )
    max_job_wall_seconds: int = Field(
        7 * 24 * 3600,
        ge=1,
        description="The most running time a job may ask for; the operator may set another "
        "cap per tenant (PUT /v1/tenants/{id}).",
    )
    max_storage_bytes_per_tenant: int = Field(
        0,
        ge=0,
        description="Bytes a tenant may store under the data directory before new uploads "
        "and jobs are refused (429); 0 = no limit; PUT /v1/tenants/{id} overrides it.",
    )
    image_cache_max_bytes: int = Field(
        32 * 2**30,
        ge=0,
        description="Size budget of the decoded-image cache (shared by all tenants, counted "
        "for none): past it, the least recently used entries no running task holds are "
        "removed; 0 = no budget.",
    )
    keep_checkpoints: int = Field(
        2, ge=1, le=100, description="Newest checkpoints a running job keeps on disk."
    )
    max_active_jobs_per_tenant: int = Field(
        32, ge=1, description="Queued + running jobs, probes and dataset embeddings per tenant."
    )
    key_recheck_seconds: float = Field(
        5.0,
        ge=0,
        description="How long an API process trusts a key it found live before checking it "
        "in the database again; a key revoked elsewhere is refused within it (0: every "
        "request).",
    )
    rate_limit_per_second: float = Field(
        100.0, ge=0, description="Sustained requests per second per API key; 0 = no limit."
    )
    rate_limit_burst: int = Field(200, ge=1, description="Requests a key may make at once.")
    address_rate_limit_per_second: float = Field(
        200.0,
        ge=0,
        description="Sustained /v1 requests per second per client address, checked before "
        "the key (unauthenticated floods); 0 = no limit.",
    )
    address_rate_limit_burst: int = Field(
        400, ge=1, description="Requests a client address may make at once."
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Addresses or networks (comma-separated, e.g. 10.0.0.0/8) of reverse "
        "proxies whose X-Forwarded-For names the client; empty: the socket peer is the client.",
    )
    max_request_pixels: int = Field(
        64_000_000,
        ge=1,
        description="Decoded pixels one embed or energy request may ask for, all images "
        "together (413); resize large images before sending them.",
    )
    max_energy_in_flight: int = Field(
        8, ge=1, description="Energy requests in flight per tenant; more are answered 429."
    )
    max_streams_per_key: int = Field(
        16, ge=1, description="Open event streams per API key; more are answered 429."
    )
    max_request_bytes: int = Field(
        1024 * 1024, ge=1024, description="Body limit of every route without its own (413)."
    )
    max_json_depth: int = Field(32, ge=2, description="Deepest nesting a JSON body may have.")
    max_archive_bytes: int = Field(
        2 * 1024**3, ge=1024, description="Dataset upload: the archive's size (413)."
    )
    max_archive_members: int = Field(200_000, ge=1, description="Dataset upload: entries.")
    max_archive_member_bytes: int = Field(
        64 * 1024**2, ge=1, description="Dataset upload: one file, uncompressed."
    )
    max_archive_total_bytes: int = Field(
        8 * 1024**3, ge=1, description="Dataset upload: all files, uncompressed."
    )
    max_archive_ratio: float = Field(
        100.0, gt=1, description="Dataset upload: uncompressed / archive size (zip bombs)."
    )
    ingest_cpu_seconds: int = Field(
        600, ge=1, description="CPU time of one ingest (unpack and scan) child process."
    )
    ingest_memory_bytes: int = Field(
        4 * 1024**3, ge=64 * 1024**2, description="Address space of one ingest child process."
    )
    ingest_wall_seconds: float = Field(
        1800.0, gt=0, description="Wall time of one ingest child process; killed past it."
    )

    @field_validator("dataset_roots", mode="before")
    @classmethod
    def _split_path_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [Path(part) for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("trusted_proxies", mode="before")
    @classmethod
    def _split_address_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        for network in value if isinstance(value, list) else ():
            ipaddress.ip_network(network, strict=False)  # ValueError: a clear settings error
        return value

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or _sqlite_url(self.data_dir, os.getcwd())

    @property
    def resolved_broker_url(self) -> str:
        return self.broker_url or "filesystem://"

    @property
    def uses_filesystem_broker(self) -> bool:
        return self.resolved_broker_url.startswith("filesystem://")

    @property
    def broker_dir(self) -> Path:
        return (self.data_dir / "broker").resolve()

    @property
    def artifacts_dir(self) -> Path:
        return (self.data_dir / "artifacts").resolve()

    @property
    def cache_dir(self) -> Path:
        return (self.data_dir / "cache").resolve()

    @property
    def resolved_api_url(self) -> str:
        return self.api_url or f"http://{self.host}:{self.port}"

    @property
    def local_key_file(self) -> Path:
        """The embedded mode's key, written by ``sslpt up`` for the CLI on this machine."""
        return (self.data_dir / "local-api-key").resolve()


@lru_cache(maxsize=64)
def _sqlite_url(data_dir: Path, cwd: str) -> str:
    """The embedded database's URL; resolving a path costs a system call per component,
    and every request asks for it (``cwd``: a relative ``data_dir`` depends on it)."""
    del cwd  # part of the cache key only
    return f"sqlite:///{(data_dir / 'sslpt.db').resolve()}"


@lru_cache
def get_settings() -> Settings:
    return Settings()
