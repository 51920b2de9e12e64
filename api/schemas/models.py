"""Trained-model bodies, embedding and energy requests."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ssl_engine.precision import Precision, RequestedPrecision


class Ancestor(BaseModel):
    """A model this one was (directly or further back) started from."""

    model_id: str
    job_id: str | None = None
    method: str | None = None
    backbone: str | None = None
    dataset_id: str | None = None
    deleted: bool = Field(False, description="The model was deleted since.")


class ModelOut(BaseModel):
    id: str
    job_id: str
    dataset_id: str
    dataset_deleted: bool = Field(
        description="The dataset was deleted since; the model keeps naming it."
    )
    method: str
    backbone: str
    image_size: int
    embed_dim: int
    hyperparameters: dict[str, Any]
    metrics: dict[str, Any]
    stored_bytes: int = Field(
        description="Bytes its weights, exports, dataset embeddings and search indexes take."
    )
    parent_model_id: str | None = Field(
        description="The model whose encoder its job started from (null: from scratch, or "
        "that model was deleted)."
    )
    lineage: list[Ancestor] = Field(
        description="Its ancestors, parent first, as they were when it was trained."
    )
    created_at: datetime


EncodingFormat = Literal["float", "base64"]
PRECISION_DESCRIPTION = (
    "auto, fp32 (float32-exact vectors) or bf16; default: the server's "
    "SSLPT_SERVING_PRECISION. The answer says which precision produced the result."
)


class DatasetItems(BaseModel):
    model_config = ConfigDict(extra="forbid")

    dataset_id: str
    paths: list[str] = Field(
        min_length=1, description="Files relative to the dataset folder, as search returns them."
    )


class EmbedFormOptions(BaseModel):
    """The options of a multipart embed request (besides its files and ``normalize``)."""

    model_config = ConfigDict(extra="forbid")

    encoding_format: EncodingFormat = "float"
    precision: RequestedPrecision | None = None


class EmbedRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: list[str] = Field(default_factory=list, description="Base64-encoded image files.")
    dataset_items: DatasetItems | None = Field(
        None, description="Images of a registered dataset, instead of (or after) ``images``."
    )
    normalize: bool = Field(False, description="L2-normalise each vector.")
    encoding_format: EncodingFormat = Field(
        "float", description="float: JSON numbers; base64: little-endian float32 bytes."
    )
    precision: RequestedPrecision | None = Field(None, description=PRECISION_DESCRIPTION)

    @model_validator(mode="after")
    def _some_image(self) -> EmbedRequest:
        if not self.images and self.dataset_items is None:
            raise ValueError("send at least one image in images or dataset_items")
        return self


class EmbedResponse(BaseModel):
    model: str
    dim: int
    precision: Precision = Field(description="The precision the forward pass ran at.")
    encoding_format: EncodingFormat = "float"
    embeddings: list[list[float]] | list[str] = Field(
        description="One vector per image, in request order (base64 float32 when asked)."
    )


class ImagePair(BaseModel):
    model_config = ConfigDict(extra="forbid")

    x: str = Field(description="Base64-encoded image file.")
    y: str = Field(description="Base64-encoded image file.")


class EnergyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pairs: list[ImagePair] = Field(min_length=1)
    precision: RequestedPrecision | None = Field(None, description=PRECISION_DESCRIPTION)


MAX_PICTURES = 256  # images per sample grid or reconstruction request


class ReconstructRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    images: list[str] = Field(
        min_length=1, max_length=MAX_PICTURES, description="Base64-encoded image files."
    )
    seed: int = Field(0, ge=0, le=2**31 - 1, description="Masks and noise follow it.")


class EnergyResponse(BaseModel):
    model: str
    method: str
    precision: Precision = Field(description="The precision the forward pass ran at.")
    energies: list[float]
