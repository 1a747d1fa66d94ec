"""The shared edge checks: every encoder rejects bad input with the same clear message."""

from __future__ import annotations

import numpy as np
import pytest
from driftrec.encoders import HashingEncoder, TextEncoder
from driftrec.encoders.base import l2_normalize, validate_texts, want_progress_bar


def test_empty_list_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="expected a non-empty list of strings"):
        validate_texts([])


def test_non_string_item_names_index_and_type() -> None:
    with pytest.raises(TypeError, match=r"texts\[2\] is int, expected str"):
        validate_texts(["a", "b", 3])


def test_bare_string_is_rejected_not_split_into_characters() -> None:
    with pytest.raises(TypeError, match="got a single str"):
        validate_texts("hello")


def test_tuple_and_generator_are_accepted() -> None:
    assert validate_texts(("a", "b")) == ["a", "b"]
    assert validate_texts(t for t in ["x"]) == ["x"]


def test_progress_bar_defaults_to_long_inputs_only() -> None:
    assert want_progress_bar(None, 1000) is False
    assert want_progress_bar(None, 1001) is True
    assert want_progress_bar(True, 1) is True
    assert want_progress_bar(False, 10**6) is False


def test_l2_normalize_gives_unit_rows_and_no_nan_for_zero_rows() -> None:
    x = np.array([[3.0, 4.0], [0.0, 0.0]])
    out = l2_normalize(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.6, 0.8], [1.0, 0.0]], atol=1e-7)


def test_hashing_encoder_satisfies_the_protocol() -> None:
    assert isinstance(HashingEncoder(8), TextEncoder)


def test_show_progress_bar_must_be_a_bool_or_none(hashing_encoder) -> None:  # type: ignore[no-untyped-def]
    hashing_encoder.encode(["warm the cache"])
    for encoder in (hashing_encoder, hashing_encoder.inner):
        with pytest.raises(TypeError, match=r"show_progress_bar must be True, False or None, "
                                            r"got 'no' \(str\)"):
            encoder.encode(["warm the cache"], show_progress_bar="no")
