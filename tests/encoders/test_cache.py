"""CachedEncoder: cache hits compute nothing; corrupt files are reported once and rebuilt."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from driftrec.encoders import CachedEncoder, HashingEncoder, load_encoder
from driftrec.encoders import cache as cache_module
from driftrec.encoders.cache import CacheCorruptionWarning

TEXTS = ["red running shoes", "<i>Jazz</i> piano live", "red running shoes", "quantum news"]


class CountingEncoder:
    """A HashingEncoder that records every text it is asked to compute."""

    def __init__(self, dim: int = 16, name: str | None = None) -> None:
        self._inner = HashingEncoder(dim)
        self.name = name or self._inner.name
        self.dim = dim
        self.calls: list[list[str]] = []

    def encode(
        self, texts: Sequence[str], *, batch_size: int = 64, show_progress_bar: bool | None = None
    ) -> np.ndarray:
        self.calls.append(list(texts))
        return self._inner.encode(texts, batch_size=batch_size)

    @property
    def computed(self) -> int:
        return sum(len(call) for call in self.calls)


def test_second_encode_computes_nothing(tmp_path: Path) -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    first = cached.encode(TEXTS)
    # The duplicate "red running shoes" is computed once.
    assert inner.computed == 3
    second = cached.encode(TEXTS)
    assert inner.computed == 3
    np.testing.assert_array_equal(first, second)
    np.testing.assert_array_equal(first, HashingEncoder(16).encode(TEXTS))


def test_fresh_instance_reads_the_disk_cache(tmp_path: Path) -> None:
    CachedEncoder(CountingEncoder(), cache_dir=tmp_path).encode(TEXTS)
    inner = CountingEncoder()
    out = CachedEncoder(inner, cache_dir=tmp_path).encode(list(reversed(TEXTS)))
    assert inner.calls == []
    np.testing.assert_array_equal(out, HashingEncoder(16).encode(list(reversed(TEXTS))))


def test_only_new_texts_are_computed(tmp_path: Path) -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    cached.encode(TEXTS[:2])
    cached.encode(TEXTS + ["brand new"])
    assert inner.calls[1] == ["quantum news", "brand new"]


def test_texts_equal_after_cleaning_share_an_entry(tmp_path: Path) -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    cached.encode(["<b>Jazz</b>  piano"])
    cached.encode(["Jazz piano"])
    assert inner.computed == 1


def test_same_name_and_dim_as_inner(tmp_path: Path) -> None:
    inner = CountingEncoder(dim=16)
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    assert (cached.name, cached.dim) == (inner.name, inner.dim)


def test_different_encoder_names_do_not_share_entries(tmp_path: Path) -> None:
    CachedEncoder(CountingEncoder(name="model-a@1"), cache_dir=tmp_path).encode(TEXTS)
    other = CountingEncoder(name="model-a@2")
    CachedEncoder(other, cache_dir=tmp_path).encode(TEXTS)
    assert other.computed == 3


def test_catalog_sized_encode_is_one_shard_and_cached(tmp_path: Path) -> None:
    texts = [f"item {i} about topic {i % 37}" for i in range(10_000)]
    inner = CountingEncoder(dim=32)
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    first = cached.encode(texts)
    assert len(list(cached.folder.glob("shard-*.npz"))) == 1
    again = CachedEncoder(CountingEncoder(dim=32), cache_dir=tmp_path)
    np.testing.assert_array_equal(again.encode(texts), first)
    assert again.inner.calls == []  # type: ignore[attr-defined]


def test_many_small_encodes_are_compacted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("driftrec.encoders.cache.MAX_SHARDS", 4)
    cached = CachedEncoder(CountingEncoder(), cache_dir=tmp_path)
    for i in range(6):
        cached.encode([f"text {i}"])
    assert len(list(cached.folder.glob("shard-*.npz"))) <= 4
    inner = CountingEncoder()
    CachedEncoder(inner, cache_dir=tmp_path).encode([f"text {i}" for i in range(6)])
    assert inner.calls == []


def _shard(cached: CachedEncoder) -> Path:
    (path,) = cached.folder.glob("shard-*.npz")
    return path


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],  # truncated write
        lambda data: b"",  # empty file
        lambda data: b"not a zip file at all" * 10,
    ],
    ids=["truncated", "empty", "garbage"],
)
def test_corrupt_file_warns_once_and_is_rebuilt(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    expected = CachedEncoder(CountingEncoder(), cache_dir=tmp_path).encode(TEXTS)
    path = _shard(CachedEncoder(CountingEncoder(), cache_dir=tmp_path))
    path.write_bytes(damage(path.read_bytes()))

    inner = CountingEncoder()
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    with pytest.warns(CacheCorruptionWarning, match=path.name) as record:
        out = cached.encode(TEXTS)
    assert len(record) == 1
    np.testing.assert_array_equal(out, expected)
    assert inner.computed == 3

    # Rebuilt: a fresh reader finds a valid file, warns about nothing and computes nothing.
    fresh = CountingEncoder()
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal(
            CachedEncoder(fresh, cache_dir=tmp_path).encode(TEXTS), expected
        )
    assert fresh.calls == []


def _resave(path: Path, keys: np.ndarray, vectors: np.ndarray, *, digests: bool) -> None:
    """Write a valid shard file with these rows; ``digests`` recomputes them for the new rows
    (a consistent file), otherwise the digests of the original rows are kept."""
    with np.load(path) as data:
        fields = {k: data[k] for k in data.files}
    fields.update(keys=keys, vectors=vectors)
    if digests:
        texts, values = cache_module._digests(keys, vectors)
        fields.update(texts_sha256=np.array(texts), vectors_sha256=np.array(values))
    np.savez(path, **fields)


def _rows(path: Path) -> tuple[np.ndarray, np.ndarray]:
    with np.load(path) as data:
        return data["keys"], data["vectors"]


def test_file_with_non_unit_vectors_is_treated_as_corrupt(tmp_path: Path) -> None:
    first = CachedEncoder(CountingEncoder(), cache_dir=tmp_path)
    first.encode(TEXTS)
    path = _shard(first)
    keys, vectors = _rows(path)
    _resave(path, keys, vectors * np.nan, digests=True)
    inner = CountingEncoder()
    with pytest.warns(CacheCorruptionWarning, match="not finite unit rows"):
        CachedEncoder(inner, cache_dir=tmp_path).encode(TEXTS)
    assert inner.computed == 3


@pytest.mark.parametrize(
    ("swap", "match"),
    [("vectors", r"its vectors do not match the vectors_sha256"),
     ("keys", r"its texts do not match the texts_sha256")],
)
def test_shard_with_swapped_rows_warns_once_and_is_rebuilt(
    tmp_path: Path, swap: str, match: str
) -> None:
    # A valid file whose rows no longer match the digests written with them (rows 0 and 1
    # swapped in one array and re-saved) would hand text 0 the vector of text 1.
    expected = CachedEncoder(CountingEncoder(), cache_dir=tmp_path).encode(TEXTS)
    path = _shard(CachedEncoder(CountingEncoder(), cache_dir=tmp_path))
    keys, vectors = _rows(path)
    if swap == "vectors":
        vectors = vectors[[1, 0, 2]]
    else:
        keys = keys[[1, 0, 2]]
    _resave(path, keys, vectors, digests=False)

    inner = CountingEncoder()
    with pytest.warns(CacheCorruptionWarning, match=match) as record:
        out = CachedEncoder(inner, cache_dir=tmp_path).encode(TEXTS)
    assert len(record) == 1
    assert inner.computed == 3
    np.testing.assert_array_equal(out, expected)
    np.testing.assert_array_equal(out, HashingEncoder(16).encode(TEXTS))


def test_shard_without_digests_is_rebuilt(tmp_path: Path) -> None:
    first = CachedEncoder(CountingEncoder(), cache_dir=tmp_path)
    first.encode(TEXTS)
    path = _shard(first)
    with np.load(path) as data:
        np.savez(path, keys=data["keys"], vectors=data["vectors"], name=data["name"])
    inner = CountingEncoder()
    with pytest.warns(CacheCorruptionWarning, match=r"texts_sha256 is not a file in the archive"):
        CachedEncoder(inner, cache_dir=tmp_path).encode(TEXTS)
    assert inner.computed == 3


def test_cache_dir_that_is_a_file_is_a_clear_error(tmp_path: Path) -> None:
    file = tmp_path / "cache"
    file.write_text("x")
    with pytest.raises(ValueError, match=r"embedding cache folder '.*cache' is a file; expected a "
                                         r"folder"):
        CachedEncoder(CountingEncoder(), cache_dir=file)


def test_wrong_dimension_cache_file_is_a_clear_error(tmp_path: Path) -> None:
    # Two encoders claiming one name but different dims: rebuilding would hide that bug.
    CachedEncoder(CountingEncoder(dim=16, name="shared@1"), cache_dir=tmp_path).encode(TEXTS)
    wrong = CachedEncoder(CountingEncoder(dim=32, name="shared@1"), cache_dir=tmp_path)
    with pytest.raises(ValueError, match=r"holds 16-d vectors but encoder 'shared@1' has dim 32"):
        wrong.encode(TEXTS)


def test_bad_inputs_are_rejected_before_the_cache(tmp_path: Path) -> None:
    inner = CountingEncoder()
    cached = CachedEncoder(inner, cache_dir=tmp_path)
    with pytest.raises(ValueError, match="expected a non-empty list of strings"):
        cached.encode([])
    with pytest.raises(TypeError, match=r"texts\[0\] is float"):
        cached.encode([1.5])  # type: ignore[list-item]
    assert inner.calls == []


def test_load_encoder_caches_by_default_under_the_env_dir() -> None:
    encoder = load_encoder("hashing", dim=8)
    assert isinstance(encoder, CachedEncoder)
    encoder.encode(["cached by default"])
    assert encoder.folder.is_dir()
    assert not isinstance(load_encoder("hashing", dim=8, cache=False), CachedEncoder)


def _tiny_bert(path: Path, seed: int) -> None:
    """A 1-layer random BERT with MiniLM's tokenizer; the seed changes the weights, not shapes."""
    import torch
    from driftrec.encoders.sentence import minilm_directory
    from transformers import AutoTokenizer, BertConfig, BertModel

    tokenizer = AutoTokenizer.from_pretrained(str(minilm_directory()), local_files_only=True)
    tokenizer.save_pretrained(str(path))
    config = BertConfig(
        vocab_size=tokenizer.vocab_size, hidden_size=16, num_hidden_layers=1,
        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        BertModel(config).save_pretrained(str(path))


def test_fine_tuned_local_model_of_the_same_size_gets_new_vectors(tmp_path: Path) -> None:
    model, cache = tmp_path / "tiny-bert", tmp_path / "cache"
    _tiny_bert(model, seed=0)
    before = load_encoder(model, cache_dir=cache)
    old = before.encode(TEXTS)
    weights = model / "model.safetensors"
    size = weights.stat().st_size

    _tiny_bert(model, seed=1)  # the "fine-tune": same tensors and shapes, other values
    assert weights.stat().st_size == size
    after = load_encoder(model, cache_dir=cache)
    assert after.name != before.name
    new = after.encode(TEXTS)
    np.testing.assert_array_equal(new, load_encoder(model, cache=False).encode(TEXTS))
    assert np.abs(new - old).max() > 0.1
