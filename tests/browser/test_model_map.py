"""The 2-D map of a dataset's embeddings: PCA against a naive reference, and the route."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from fastapi.testclient import TestClient

from api.core.vector_index import ITEMS_FILE, VECTORS_FILE
from api.routes.models.map import build_map, pca_2d


def naive_pca_2d(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors of the covariance matrix, largest first (signs are arbitrary)."""
    centred = x - x.mean(axis=0)
    values, vectors = np.linalg.eigh(centred.T @ centred)  # ascending
    order = np.argsort(values)[::-1][:2]
    return centred @ vectors[:, order], values[order] / values.sum()


def test_pca_matches_the_covariance_eigenvectors_up_to_sign() -> None:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(200, 6)) * np.array([5.0, 3.0, 1.0, 0.5, 0.2, 0.1])  # (N, D)

    coords, shares = pca_2d(x)
    expected, expected_shares = naive_pca_2d(x)

    assert coords.shape == (200, 2)
    np.testing.assert_allclose(np.abs(coords), np.abs(expected), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(shares, expected_shares, rtol=1e-8)
    assert shares[0] > shares[1] > 0


def test_pca_of_identical_points_is_all_zero() -> None:
    coords, shares = pca_2d(np.ones((5, 4)))
    assert not coords.any() and not shares.any()


def test_build_map_samples_rows_with_their_files_and_labels(tmp_path: Path) -> None:
    vectors = np.random.default_rng(0).normal(size=(50, 8)).astype(np.float32)  # (N, D)
    items = [[f"c{i % 3}/{i}.png", f"c{i % 3}"] for i in range(50)]
    np.save(tmp_path / VECTORS_FILE, vectors)
    (tmp_path / ITEMS_FILE).write_text(json.dumps(items))

    total, coords, shares, sampled = build_map(tmp_path, sample=20)
    again = build_map(tmp_path, sample=20)

    assert total == 50 and coords.shape == (20, 2) and len(sampled) == 20
    assert len({path for path, _ in sampled}) == 20  # no row twice
    assert all(label == path.split("/")[0] for path, label in sampled)
    np.testing.assert_array_equal(coords, again[1])  # the same sample every time
    assert 0 < shares.sum() <= 1


def test_an_unknown_model_has_no_map(client: TestClient) -> None:
    assert client.get("/v1/models/nope/map").json()["code"] == "model_not_found"
