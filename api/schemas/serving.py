"""Bodies of the serving routes beyond embed: warm-up, dataset embeddings and search."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from api.schemas.common import ORMModel
from ssl_engine.precision import Precision

MAX_SEARCH_K = 100


class WarmupResponse(BaseModel):
    model: str
    embed_dim: int
    image_size: int
    device: str
    precision: Precision = Field(description="What an embed request that names none runs at.")
    load_seconds: float = Field(description="How long loading took (when it was loaded).")
    memory_bytes: int = Field(description="Parameter and buffer bytes the model occupies.")
    loaded_models: list[str] = Field(description="Loaded models, least recently used first.")
    preprocessing: dict[str, Any] = Field(description="What the server does to raw images.")


class DatasetEmbeddingCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str = Field(description="A registered dataset to embed and index.")


class DatasetEmbeddingOut(ORMModel):
    id: str
    model_id: str
    dataset_id: str
    status: str = Field(description="queued, running, succeeded or failed.")
    item_count: int
    dim: int | None
    index_kind: str | None = Field(description="flat (exact) or hnsw (approximate).")
    stats: dict[str, Any]
    failure_reason: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class SearchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str | None = Field(
        None, description="Search this dataset's embedding; default: the newest one."
    )
    k: int = Field(10, ge=1, le=MAX_SEARCH_K, description="How many neighbours to return.")


class SearchRequest(SearchOptions):
    image: str | None = Field(None, description="A base64-encoded image file to search with.")
    vector: list[float] | None = Field(None, description="Or an embedding of this model.")

    @model_validator(mode="after")
    def _one_query(self) -> SearchRequest:
        if (self.image is None) == (self.vector is None):
            raise ValueError("send exactly one of image or vector")
        return self


class SearchHit(BaseModel):
    path: str = Field(description="The item's file, relative to the dataset folder.")
    label: str | None = Field(description="Its class folder when the dataset is labeled.")
    score: float = Field(description="Cosine similarity to the query, 1 = same direction.")


class SearchResponse(BaseModel):
    model: str
    dataset_id: str
    embedding_id: str
    results: list[SearchHit]
