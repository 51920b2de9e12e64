"""A 2-D map of a dataset's embeddings under a model: PCA of a sample, for the dashboard.

Reads the vectors that ``POST /v1/models/{id}/embeddings`` stored (``vectors.npy`` and
``items.json`` beside the search index) and projects a random sample onto its first two
principal components (Pearson 1901; computed as an SVD of the centred sample).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import numpy as np
from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from api.core.persistence import dataset_embeddings
from api.core.vector_index import ITEMS_FILE, VECTORS_FILE
from api.deps import SessionDep
from api.errors import ApiError
from api.lookups import model_or_404

router = APIRouter(prefix="/v1/models", tags=["search"])
SAMPLE_SEED = 0  # the same sample on every call, so the map does not jump between loads


class MapPoint(BaseModel):
    x: float
    y: float
    label: str | None
    path: str


class EmbeddingMap(BaseModel):
    model: str
    dataset_id: str
    embedding_id: str
    method: str = Field(description="How the vectors were brought to 2-D (pca).")
    total: int = Field(description="Vectors in the embedding; points holds a sample.")
    explained_variance: list[float] = Field(description="Variance share of each axis.")
    labels: list[str] | None = Field(description="Class names when the dataset is labeled.")
    points: list[MapPoint]


def pca_2d(vectors: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(N, D) -> (N, 2) coordinates on the top two principal axes, and their variance shares.

    A sample of fewer than two distinct points has no second axis: its coordinates are zero.
    """
    centred = vectors - vectors.mean(axis=0, keepdims=True)  # (N, D)
    u, singular, _ = np.linalg.svd(centred, full_matrices=False)  # u: (N, r), singular: (r,)
    coords = np.zeros((len(vectors), 2), dtype=np.float64)  # (N, 2)
    shares = np.zeros(2, dtype=np.float64)
    variance = singular**2
    kept = min(2, len(singular))
    coords[:, :kept] = u[:, :kept] * singular[:kept]
    if variance.sum() > 0:
        shares[:kept] = variance[:kept] / variance.sum()
    return coords, shares


def build_map(folder: Path, sample: int) -> tuple[int, np.ndarray, np.ndarray, list[list[str]]]:
    """Read an embedding folder; (total, coords (n, 2), variance shares, [path, label] rows)."""
    vectors = np.load(folder / VECTORS_FILE, mmap_mode="r")  # (N, D)
    items = json.loads((folder / ITEMS_FILE).read_text())
    total = len(vectors)
    rng = np.random.default_rng(SAMPLE_SEED)
    rows = np.sort(rng.choice(total, size=min(sample, total), replace=False))  # (n,)
    coords, shares = pca_2d(np.asarray(vectors[rows], dtype=np.float64))
    return total, coords, shares, [items[int(i)] for i in rows]


@router.get("/{model_id}/map", response_model=EmbeddingMap)
def embedding_map(
    model_id: str,
    session: SessionDep,
    dataset_id: Annotated[str | None, Query(description="Default: the newest embedding.")] = None,
    sample: Annotated[int, Query(ge=2, le=5000, description="Points to draw at most.")] = 1000,
) -> EmbeddingMap:
    """A 2-D PCA map of a sample of a dataset's embeddings, each point with its class."""
    model_or_404(session, model_id)
    row = dataset_embeddings.latest_succeeded(session, model_id, dataset_id)
    if row is None or row.path is None:
        raise ApiError(
            404,
            "embedding_not_found",
            f"model {model_id} has no finished dataset embedding to map; "
            f"POST /v1/models/{model_id}/embeddings first",
        )
    total, coords, shares, items = build_map(Path(row.path), sample)
    labels = sorted({label for _, label in items if label is not None})
    return EmbeddingMap(
        model=model_id,
        dataset_id=row.dataset_id,
        embedding_id=row.id,
        method="pca",
        total=total,
        explained_variance=[round(float(s), 4) for s in shares],
        labels=labels or None,
        points=[
            MapPoint(x=float(x), y=float(y), label=label, path=path)
            for (x, y), (path, label) in zip(coords, items, strict=True)
        ],
    )
