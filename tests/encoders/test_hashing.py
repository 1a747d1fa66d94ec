"""HashingEncoder: deterministic, unit-norm, meaningful overlap, fast."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
from driftrec.encoders import HashingEncoder

TEXTS = ["a cozy pasta recipe", "pasta recipe for two", "election results tonight", ""]


def test_shape_dtype_and_unit_norms() -> None:
    out = HashingEncoder(64).encode(TEXTS)
    assert out.shape == (4, 64)
    assert out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-6)


def test_default_dim_is_256_and_name_carries_dim() -> None:
    encoder = HashingEncoder()
    assert encoder.dim == 256
    assert encoder.name == "hashing-256@v1"


def test_same_vectors_in_a_fresh_process() -> None:
    # Python's hash() is salted per process; blake2b is not, so another process must agree.
    code = (
        "from driftrec.encoders import HashingEncoder;"
        "print(HashingEncoder(16).encode(['pasta recipe']).tobytes().hex())"
    )
    other = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert other == HashingEncoder(16).encode(["pasta recipe"]).tobytes().hex()


def test_batch_size_does_not_change_vectors() -> None:
    encoder = HashingEncoder(64)
    np.testing.assert_array_equal(
        encoder.encode(TEXTS, batch_size=1), encoder.encode(TEXTS, batch_size=64)
    )


def test_shared_words_give_higher_cosine() -> None:
    out = HashingEncoder(256).encode(TEXTS[:3])
    assert out[0] @ out[1] > out[0] @ out[2]


def test_cleaning_is_applied() -> None:
    encoder = HashingEncoder(64)
    a, b = encoder.encode(["<b>Pasta</b> recipe https://x.io", "pasta   RECIPE"])
    np.testing.assert_array_equal(a, b)


def test_empty_text_gets_a_fixed_unit_vector() -> None:
    out = HashingEncoder(32).encode(["", "<p></p>", "https://only.a/url"])
    assert np.all(np.isfinite(out))
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], out[2])
    assert np.linalg.norm(out[0]) == pytest.approx(1.0)


@pytest.mark.parametrize("dim", [0, -3, 2.5, True])
def test_bad_dim_is_rejected(dim: object) -> None:
    with pytest.raises(ValueError, match="dim must be a positive int"):
        HashingEncoder(dim)  # type: ignore[arg-type]


def test_bad_inputs() -> None:
    encoder = HashingEncoder(8)
    with pytest.raises(ValueError, match="expected a non-empty list of strings"):
        encoder.encode([])
    with pytest.raises(TypeError, match=r"texts\[1\] is NoneType"):
        encoder.encode(["ok", None])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="single str"):
        encoder.encode("just one")
    with pytest.raises(ValueError, match="batch_size must be positive"):
        encoder.encode(["a"], batch_size=0)
