"""TransformersEncoder: checked against sentence-transformers, and on a tiny decoder LLM."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from driftrec.encoders import TransformersEncoder
from driftrec.encoders.sentence import minilm_directory
from driftrec.encoders.transformers_encoder import pool

TEXTS = [
    "Easy homemade pasta carbonara recipe",
    "Parliament election results tonight, with analysis from our political desk and reactions",
    "wireless headphones",
    "",
]


@pytest.fixture(scope="module")
def hf_minilm() -> TransformersEncoder:
    return TransformersEncoder(minilm_directory(), pooling="mean")


@pytest.fixture(scope="module")
def tiny_llama(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2-layer random Llama saved like a real decoder LLM (weights seeded, no global RNG use)."""
    from transformers import AutoTokenizer, LlamaConfig, LlamaModel

    path = tmp_path_factory.mktemp("tiny-llama")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_directory()), local_files_only=True)
    tokenizer.save_pretrained(str(path))
    config = LlamaConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=4,
        max_position_embeddings=128,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        LlamaModel(config).save_pretrained(str(path))
    return path


def test_mean_pooling_matches_sentence_transformers(minilm_encoder, hf_minilm) -> None:  # type: ignore[no-untyped-def]
    reference = minilm_encoder.inner.encode(TEXTS)
    ours = hf_minilm.encode(TEXTS)
    cosine = np.sum(reference * ours, axis=1)
    assert cosine.min() > 0.999


def test_name_dim_and_unit_rows(hf_minilm: TransformersEncoder) -> None:
    assert hf_minilm.dim == 384
    assert hf_minilm.name.startswith("hf:model:mean:512@")
    out = hf_minilm.encode(TEXTS)
    assert out.shape == (4, 384) and out.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), 1.0, atol=1e-5)


def test_batch_size_one_equals_batch_size_64(hf_minilm: TransformersEncoder) -> None:
    np.testing.assert_allclose(
        hf_minilm.encode(TEXTS, batch_size=1), hf_minilm.encode(TEXTS, batch_size=64), atol=1e-5
    )


def test_truncation_to_max_length() -> None:
    short = TransformersEncoder(minilm_directory(), max_length=8)
    assert short.max_length == 8
    long_text = "word " * 2000
    same_prefix = "word " * 6  # 6 words + [CLS] + [SEP] = 8 tokens
    np.testing.assert_allclose(short.encode([long_text]), short.encode([same_prefix]), atol=1e-5)


def test_last_token_pooling_on_decoder_is_padding_side_invariant(tiny_llama: Path) -> None:
    encoder = TransformersEncoder(tiny_llama, pooling="last")
    assert encoder.dim == 32
    encoder.tokenizer.padding_side = "right"
    right = encoder.encode(TEXTS, batch_size=4)
    encoder.tokenizer.padding_side = "left"
    left = encoder.encode(TEXTS, batch_size=4)
    alone = encoder.encode(TEXTS, batch_size=1)
    np.testing.assert_allclose(left, right, atol=1e-5)
    np.testing.assert_allclose(left, alone, atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(left, axis=1), 1.0, atol=1e-5)


def test_pool_picks_last_real_token_for_both_padding_sides() -> None:
    hidden = torch.arange(2 * 4, dtype=torch.float32).reshape(2, 4, 1)
    right = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    left = torch.tensor([[0, 0, 1, 1], [1, 1, 1, 1]])
    assert pool(hidden, right, "last").flatten().tolist() == [1.0, 7.0]
    assert pool(hidden, left, "last").flatten().tolist() == [3.0, 7.0]
    # mean over real tokens only: (0 + 1) / 2 and (4 + 5 + 6 + 7) / 4
    assert pool(hidden, right, "mean").flatten().tolist() == [0.5, 5.5]


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown pooling 'max'"):
        TransformersEncoder(minilm_directory(), pooling="max")
    with pytest.raises(ValueError, match="does not exist"):
        TransformersEncoder(tmp_path / "missing")


def test_bad_inputs(hf_minilm: TransformersEncoder) -> None:
    with pytest.raises(ValueError, match="expected a non-empty list of strings"):
        hf_minilm.encode([])
    with pytest.raises(TypeError, match=r"texts\[1\] is bytes"):
        hf_minilm.encode(["ok", b"raw"])  # type: ignore[list-item]
