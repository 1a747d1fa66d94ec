"""directory_revision: the model fingerprint that keys the cache."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pytest
from driftrec.encoders import revision
from driftrec.encoders.revision import directory_revision


def test_revision_changes_with_config_and_weights_but_not_readme(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text('{"hidden_size": 8}')
    (tmp_path / "model.safetensors").write_bytes(b"\0" * (2**20 + 10))
    base = directory_revision(tmp_path)
    assert base == directory_revision(tmp_path)
    (tmp_path / "README.md").write_text("docs")
    assert directory_revision(tmp_path) == base
    (tmp_path / "config.json").write_text('{"hidden_size": 16}')
    changed = directory_revision(tmp_path)
    assert changed != base
    (tmp_path / "model.safetensors").write_bytes(b"\0" * (2**20 + 11))
    assert directory_revision(tmp_path) != changed


def _stamp(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_atime_ns, stat.st_mtime_ns


def test_revision_changes_with_weights_bytes_of_the_same_size(tmp_path: Path) -> None:
    model = tmp_path / "model"
    model.mkdir()
    weights = model / "model.safetensors"
    weights.write_bytes(b"\0" * (2**20 + 10))
    stamp = _stamp(weights)
    base = directory_revision(model, cache_dir=tmp_path / "cache")
    weights.write_bytes(b"\1" * (2**20 + 10))  # a fine-tune: same size, other bytes
    os.utime(weights, ns=stamp)  # even with the old mtime put back (ctime still moves)
    assert directory_revision(model, cache_dir=tmp_path / "cache") != base


def test_large_files_are_hashed_once_and_remembered_in_the_cache_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"hidden_size": 8}')
    weights = model / "model.safetensors"
    weights.write_bytes(b"\0" * (2**20 + 10))
    hashed: list[str] = []
    real = revision._hash_file
    monkeypatch.setattr(revision, "_hash_file", lambda p: hashed.append(p.name) or real(p))
    cache = tmp_path / "cache"

    first = directory_revision(model, cache_dir=cache)
    assert hashed == ["model.safetensors"]  # config.json is small: hashed inline, not memoised
    assert directory_revision(model, cache_dir=cache) == first
    assert hashed == ["model.safetensors"]  # unchanged: read from the memo
    memo = json.loads((cache / revision.MEMO_FILE).read_text())
    entry = memo["files"][str(weights.resolve())]
    assert entry["size"] == 2**20 + 10
    assert entry["sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()

    (cache / revision.MEMO_FILE).write_text("{damaged")  # a memo, never a source of truth
    assert directory_revision(model, cache_dir=cache) == first
    assert hashed == ["model.safetensors"] * 2
