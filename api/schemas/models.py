"""Trained-model bodies, embedding and energy requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import ORMModel


class ModelOut(ORMModel):
    id: str
    job_id: str
    dataset_id: str
    method: str
    backbone: str
    image_size: int
    embed_dim: int
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    created_at: datetime


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: list[str] = Field(min_length=1, description="Base64-encoded image files.")
    normalize: bool = Field(False, description="L2-normalise each vector.")


class EmbedResponse(BaseModel):
    model: str
    dim: int
    embeddings: list[list[float]]


class ImagePair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: str = Field(description="Base64-encoded image file.")
    y: str = Field(description="Base64-encoded image file.")


class EnergyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[ImagePair] = Field(min_length=1)


class EnergyResponse(BaseModel):
    model: str
    method: str
    energies: list[float]
