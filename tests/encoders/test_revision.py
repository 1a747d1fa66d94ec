"""directory_revision: the model fingerprint that keys the cache."""

from __future__ import annotations

from pathlib import Path

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
