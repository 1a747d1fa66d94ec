"""A short fingerprint of a model directory, so cache keys change when the model changes."""

from __future__ import annotations

import hashlib
from pathlib import Path

# Configs, tokenizers and vocabularies are hashed in full; anything larger (weights) contributes
# its path and size only, which changes with any re-export while costing no 90 MB read per load.
_FULL_HASH_LIMIT = 2**20


def directory_revision(path: str | Path, length: int = 12) -> str:
    """Return a hex digest over the files of ``path`` (names, sizes, small files' contents)."""
    root = Path(path)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel or rel.endswith(".md"):
            continue  # README edits and hidden tool files do not change the vectors
        size = file.stat().st_size
        digest.update(f"{rel}\0{size}\0".encode())
        if size <= _FULL_HASH_LIMIT:
            digest.update(file.read_bytes())
    return digest.hexdigest()[:length]
