"""A dataset's embeddings on disk and a faiss index over them, searched by cosine similarity.

A folder holds ``vectors.npy`` ((N, D) float32, L2-normalised), ``items.json`` (the file
and label of each row) and ``index.faiss``. Vectors are unit length, so inner product is
cosine similarity. Up to ``exact_max`` items the index is exact (``IndexFlatIP``, a BLAS
scan); beyond, an HNSW graph (Malkov & Yashunin, "Efficient and robust approximate nearest
neighbor search using Hierarchical Navigable Small World graphs", 2016) answers in
sub-linear time at a small cost in recall.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

VECTORS_FILE = "vectors.npy"
ITEMS_FILE = "items.json"
INDEX_FILE = "index.faiss"
HNSW_NEIGHBOURS = 32  # M: graph degree; 16-64 is the usual range, higher = better recall
HNSW_EF_CONSTRUCTION = 80  # candidate list while building
HNSW_EF_SEARCH = 128  # candidate list while searching; raised to k when k is larger


@dataclass(frozen=True)
class Item:
    path: str  # relative to the dataset folder
    label: str | None


@dataclass(frozen=True)
class Neighbour:
    item: Item
    score: float  # cosine similarity, 1 for the same direction


def build_index(vectors: np.ndarray, exact_max: int) -> tuple[Any, str]:
    """A faiss index over (N, D) unit vectors and its kind, ``flat`` or ``hnsw``."""
    import faiss

    n, dim = vectors.shape
    index: Any
    if n <= exact_max:
        index, kind = faiss.IndexFlatIP(dim), "flat"
    else:
        index = faiss.IndexHNSWFlat(dim, HNSW_NEIGHBOURS, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        kind = "hnsw"
    index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, kind


def write_index_folder(folder: Path, vectors: np.ndarray, items: list[Item], exact_max: int) -> str:
    """Write vectors, items and their index into ``folder``; returns the index kind."""
    import faiss

    if len(vectors) != len(items):
        raise ValueError(f"{len(vectors)} vectors for {len(items)} items")
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / VECTORS_FILE, vectors.astype(np.float32))
    (folder / ITEMS_FILE).write_text(json.dumps([[i.path, i.label] for i in items]))
    index, kind = build_index(vectors, exact_max)
    faiss.write_index(index, str(folder / INDEX_FILE))
    return kind


class SearchIndex:
    """A loaded index folder; ``search`` is safe to call from several threads."""

    def __init__(self, folder: Path) -> None:
        import faiss

        self.index = faiss.read_index(str(folder / INDEX_FILE))
        rows = json.loads((folder / ITEMS_FILE).read_text())
        self.items = [Item(path=path, label=label) for path, label in rows]
        self.dim = int(self.index.d)

    def search(self, query: np.ndarray, k: int) -> list[Neighbour]:
        """The ``k`` nearest items to one (D,) unit vector, most similar first."""
        import faiss

        if query.shape != (self.dim,):
            raise ValueError(f"query must have shape ({self.dim},), got {query.shape}")
        k = min(k, len(self.items))
        params = None
        if isinstance(self.index, faiss.IndexHNSWFlat):
            ef_search = max(HNSW_EF_SEARCH, k)
            params = faiss.SearchParametersHNSW(efSearch=ef_search)  # type: ignore[attr-defined]
        scores, positions = self.index.search(
            np.ascontiguousarray(query[None], dtype=np.float32), k, params=params
        )  # (1, k) each
        return [
            Neighbour(self.items[p], float(s))
            for p, s in zip(positions[0], scores[0], strict=True)
            if p >= 0
        ]


@lru_cache(maxsize=8)
def load_search_index(folder: str) -> SearchIndex:
    """The index in ``folder``, kept loaded for the next searches (folders never change)."""
    return SearchIndex(Path(folder))
