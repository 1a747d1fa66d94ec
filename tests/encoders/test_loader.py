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


def _folder(root: Path, files: dict[str, str]) -> Path:
    folder = root / "model"
    folder.mkdir()
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    return folder


CONFIG = '{"model_type": "bert", "hidden_size": 8}'


@pytest.mark.parametrize(
    ("files", "match"),
    [
        ({}, r"model folder '.*model' is empty; expected a sentence-transformers folder"),
        ({"README.md": "x"}, (r"model folder '.*model' has no config.json; expected a "
                             r"transformers folder with config.json, weights")),
        ({"config.json": "{not json"}, r"config.json is not valid UTF-8 JSON"),
        ({"config.json": "[1]"}, r"config.json is \[1\]; expected a JSON object"),
        ({"config.json": CONFIG}, (r"has no weights \(looked for \*.safetensors, "
                                  r"pytorch_model\*.bin")),
        ({"config.json": CONFIG, "model.safetensors": "x"},
         r"has no tokenizer files \(looked for tokenizer.json, vocab.txt"),
        ({"modules.json": "[]"}, r"modules.json is \[\]; expected a non-empty list of modules"),
        ({"modules.json": '[{"path": "0_T", "type": "sentence_transformers.models.Transformer"}]'},
         r"\(module 0_T\): module folder '.*0_T' is missing"),
    ],
    ids=["empty", "readme-only", "bad-json", "config-list", "no-weights", "no-tokenizer",
         "no-modules", "missing-module"],
)
def test_incomplete_model_folder_names_what_is_missing(
    tmp_path: Path, files: dict[str, str], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        load_encoder(_folder(tmp_path, files), cache=False)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"spec": ""}, ValueError, r"encoder spec is empty; expected 'minilm'"),
        ({"spec": "  "}, ValueError, r"encoder spec is empty"),
        ({"spec": "hashing", "cache": "no"}, TypeError, r"cache must be True or False, got 'no'"),
        ({"spec": "hashing", "device": "gpu0"}, ValueError,
         r"device 'gpu0' is not a torch device; expected 'cpu', 'cuda'"),
        ({"spec": "hashing", "device": 0}, TypeError, r"device must be a str .* got 0 \(int\)"),
    ],
)
def test_bad_load_encoder_arguments(kwargs: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        load_encoder(**kwargs)
