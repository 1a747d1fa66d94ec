"""PCAProjection and ProjectedEncoder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driftrec.encoders import HashingEncoder, PCAProjection, ProjectedEncoder


@pytest.fixture
def catalog() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 16)) * np.linspace(3.0, 0.1, 16)
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


def test_transform_keeps_unit_norm_and_shape(catalog: np.ndarray) -> None:
    projection = PCAProjection.fit(catalog, 4)
    out = projection.transform(catalog)
    assert out.shape == (200, 4) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)
    assert projection.transform(catalog[0]).shape == (4,)


def test_components_are_orthonormal_and_ordered_by_variance(catalog: np.ndarray) -> None:
    projection = PCAProjection.fit(catalog, 5)
    np.testing.assert_allclose(
        projection.components @ projection.components.T, np.eye(5), atol=1e-5
    )
    variances = ((catalog - projection.mean) @ projection.components.T).var(axis=0)
    assert np.all(np.diff(variances) <= 1e-6)


def test_full_dim_projection_preserves_cosines_of_centred_data(catalog: np.ndarray) -> None:
    # With dim = d the projection is a rotation of the centred data: cosines are unchanged.
    projection = PCAProjection.fit(catalog, 16)
    centred = catalog - projection.mean
    centred /= np.linalg.norm(centred, axis=1, keepdims=True)
    out = projection.transform(catalog)
    np.testing.assert_allclose(out @ out.T, centred @ centred.T, atol=1e-4)


def test_fit_is_deterministic(catalog: np.ndarray) -> None:
    a, b = PCAProjection.fit(catalog, 3), PCAProjection.fit(catalog.copy(), 3)
    np.testing.assert_array_equal(a.components, b.components)
    assert a.fingerprint == b.fingerprint


@pytest.mark.parametrize("dim", [0, -1, 17])
def test_bad_dim(catalog: np.ndarray, dim: int) -> None:
    with pytest.raises(ValueError, match=r"PCA dim must be in \[1, 16\]"):
        PCAProjection.fit(catalog, dim)


def test_dim_above_sample_count_and_wrong_input_shape(catalog: np.ndarray) -> None:
    with pytest.raises(ValueError, match="exceeds the number of embeddings 3"):
        PCAProjection.fit(catalog[:3], 4)
    with pytest.raises(ValueError, match=r"expected embeddings of shape \(n, 16\)"):
        PCAProjection.fit(catalog, 2).transform(np.ones((2, 8)))


def test_save_load_round_trip(catalog: np.ndarray, tmp_path: Path) -> None:
    projection = PCAProjection.fit(catalog, 3)
    projection.save(tmp_path / "pca.npz")
    loaded = PCAProjection.load(tmp_path / "pca.npz")
    np.testing.assert_array_equal(loaded.transform(catalog), projection.transform(catalog))


def test_projected_encoder_name_dim_and_vectors() -> None:
    base = HashingEncoder(32)
    texts = [f"item {i} in topic {i % 7} with extra words {i % 3}" for i in range(50)]
    encoder = ProjectedEncoder.fit(base, texts, 8)
    assert encoder.dim == 8
    assert encoder.name.startswith("hashing-32@v1+pca8-")
    out = encoder.encode(texts[:5])
    np.testing.assert_allclose(out, encoder.projection.transform(base.encode(texts[:5])))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_projected_encoder_rejects_mismatched_dims(catalog: np.ndarray) -> None:
    with pytest.raises(ValueError, match="expects 16-d input but encoder 'hashing-32@v1'"):
        ProjectedEncoder(HashingEncoder(32), PCAProjection.fit(catalog, 4))
