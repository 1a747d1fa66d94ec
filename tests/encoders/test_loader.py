"""load_encoder: spec → encoder, never a download, clear errors for everything else."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from driftrec.encoders import (
    CachedEncoder,
    HashingEncoder,
    SentenceTransformerEncoder,
    TransformersEncoder,
    load_encoder,
)
from driftrec.encoders.sentence import minilm_directory


def test_hashing_spec_with_default_and_custom_dim() -> None:
    assert load_encoder("hashing", cache=False).dim == 256
    encoder = load_encoder("hashing", dim=32, cache=False)
    assert isinstance(encoder, HashingEncoder) and encoder.dim == 32


def test_default_fixture_is_cached_minilm(minilm_encoder) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(minilm_encoder, CachedEncoder)
    assert isinstance(minilm_encoder.inner, SentenceTransformerEncoder)


@pytest.mark.parametrize("spec", ["sentence-transformers/all-MiniLM-L6-v2", "no/such/dir", "minlm"])
def test_unknown_spec_names_it_and_lists_valid_specs(spec: str) -> None:
    with pytest.raises(ValueError, match=rf"unknown encoder spec '{spec}'.*'minilm'.*'hashing'"):
        load_encoder(spec)


def test_sentence_transformers_directory_is_detected(tmp_path: Path) -> None:
    copy = tmp_path / "st-model"
    shutil.copytree(minilm_directory(), copy)
    encoder = load_encoder(copy, cache=False)
    assert isinstance(encoder, SentenceTransformerEncoder)
    assert encoder.name.startswith("st:st-model@")


def test_plain_directory_uses_transformers_with_pooling(tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    shutil.copytree(minilm_directory(), plain)
    (plain / "modules.json").unlink()
    (plain / "config_sentence_transformers.json").unlink()
    encoder = load_encoder(str(plain), cache=False, pooling="last")
    assert isinstance(encoder, TransformersEncoder)
    assert encoder.pooling == "last"
    assert isinstance(load_encoder(plain, cache=False), TransformersEncoder)


def test_keywords_that_do_not_apply_are_rejected() -> None:
    with pytest.raises(ValueError, match="pooling='mean' does not apply to encoder 'hashing'"):
        load_encoder("hashing", pooling="mean")
    with pytest.raises(ValueError, match="dim=64 does not apply to encoder 'minilm'"):
        load_encoder("minilm", dim=64)
    with pytest.raises(ValueError, match="unknown pooling 'cls'"):
        load_encoder("hashing", pooling="cls")
    with pytest.raises(TypeError, match="spec must be a str or Path"):
        load_encoder(3)  # type: ignore[arg-type]
