"""The faiss index folder: exact and HNSW indexes find an item itself first."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from api.core.vector_index import Item, SearchIndex, write_index_folder


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    vectors = np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)  # (n, dim)


def items(n: int) -> list[Item]:
    return [Item(path=f"img_{i:04d}.png", label="odd" if i % 2 else None) for i in range(n)]


@pytest.mark.parametrize(("exact_max", "kind"), [(10_000, "flat"), (10, "hnsw")])
def test_each_item_finds_itself_first(tmp_path: Path, exact_max: int, kind: str) -> None:
    vectors = unit_vectors(300, 16)
    assert write_index_folder(tmp_path, vectors, items(300), exact_max) == kind
    index = SearchIndex(tmp_path)
    for i in (0, 1, 150, 299):
        hits = index.search(vectors[i], k=5)
        assert hits[0].item == Item(f"img_{i:04d}.png", "odd" if i % 2 else None)
        assert hits[0].score == pytest.approx(1.0, abs=1e-5)
        assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)


def test_exact_scores_are_the_cosine_similarities(tmp_path: Path) -> None:
    vectors = unit_vectors(50, 8, seed=1)
    write_index_folder(tmp_path, vectors, items(50), exact_max=100)
    hits = SearchIndex(tmp_path).search(vectors[3], k=50)
    expected = np.sort(vectors @ vectors[3])[::-1]  # brute-force reference, (50,)
    np.testing.assert_allclose([h.score for h in hits], expected, atol=1e-5)


def test_k_larger_than_the_dataset_returns_every_item_once(tmp_path: Path) -> None:
    write_index_folder(tmp_path, unit_vectors(4, 8), items(4), exact_max=100)
    hits = SearchIndex(tmp_path).search(unit_vectors(1, 8, seed=9)[0], k=10)
    assert sorted(h.item.path for h in hits) == [i.path for i in items(4)]


def test_a_query_of_the_wrong_size_is_refused(tmp_path: Path) -> None:
    write_index_folder(tmp_path, unit_vectors(4, 8), items(4), exact_max=100)
    with pytest.raises(ValueError, match="shape"):
        SearchIndex(tmp_path).search(np.ones(5, dtype=np.float32), k=1)
