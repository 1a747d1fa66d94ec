"""The default encoder: bundled all-MiniLM-L6-v2 through sentence-transformers, offline."""

from __future__ import annotations

import numpy as np
from driftrec.encoders import SentenceTransformerEncoder

TEXTS = [
    "Easy homemade pasta carbonara recipe in 15 minutes",
    "How to cook a creamy Italian pasta dinner",
    "Parliament election results: the opposition wins a majority",
    "<p>Noise-cancelling <b>wireless</b> headphones</p> https://shop.example/x",
    "",
]


def test_name_carries_a_revision_and_dim_is_384(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    name, _, revision = minilm_encoder.name.partition("@")
    assert name == "minilm-l6-v2"
    assert len(revision) == 12
    assert minilm_encoder.dim == 384


def test_unit_float32_rows(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    out = minilm_encoder.encode(TEXTS)
    assert out.shape == (5, 384)
    assert out.dtype == np.float32
    assert np.all(np.isfinite(out))
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_related_texts_are_closer(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    out = minilm_encoder.encode(TEXTS[:3])
    assert out[0] @ out[1] > out[0] @ out[2] + 0.2


def test_batching_and_repeat_give_the_same_vectors(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    model: SentenceTransformerEncoder = minilm_encoder.inner  # bypass the cache on purpose
    one = model.encode(TEXTS, batch_size=1)
    many = model.encode(TEXTS, batch_size=64)
    np.testing.assert_allclose(one, many, atol=1e-5)
    np.testing.assert_allclose(model.encode(TEXTS), many, atol=1e-6)


def test_cleaning_happens_before_encoding(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    model: SentenceTransformerEncoder = minilm_encoder.inner
    a, b = model.encode(["<b>Jazz</b> piano https://x.io/live", "Jazz piano"])
    np.testing.assert_allclose(a, b, atol=1e-6)
