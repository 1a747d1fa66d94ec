"""A fingerprint of a model directory from its files' bytes, so cache keys change with the model.

The fingerprint covers every file's relative path and full contents (README/markdown and hidden
files excepted: they do not change the vectors). Names and sizes alone are not enough: a
fine-tuned model keeps its tensors' shapes, so its weights file keeps its size, and would be
served the old model's cached vectors.

Reading a 90 MB weights file on every load would cost a few hundred milliseconds, so the digest
of each file over ``_FULL_HASH_LIMIT`` is remembered in ``<cache dir>/model-hashes.json``, keyed
by the file's absolute path and checked against its size, ``mtime_ns`` and ``ctime_ns``. Any
write to a file changes its ctime (which, unlike mtime, cannot be set back), so a remembered
digest is never used for changed bytes. The side file is written atomically; if it is missing,
unreadable or not writable, digests are simply recomputed — it is a memo, never a source of truth.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any

from .cache_dir import resolve_cache_dir
from .io import atomic_write_json

_FULL_HASH_LIMIT = 2**20  # files up to this size are cheap enough to hash on every load
MEMO_FILE = "model-hashes.json"
_MEMO_FORMAT = "driftrec-model-hashes-v1"
_CHUNK = 2**22
_HEX64 = re.compile(r"[0-9a-f]{64}")


def directory_revision(
    path: str | Path, length: int = 12, *, cache_dir: str | Path | None = None
) -> str:
    """Return a hex digest over the files of ``path`` (relative names and full contents).

    ``cache_dir`` (default: ``resolve_cache_dir()``) holds the side file that remembers the
    digests of large files between loads.
    """
    root = Path(path)
    memo = _Memo(resolve_cache_dir(cache_dir) / MEMO_FILE)
    digest = hashlib.sha256()
    for file in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = file.relative_to(root).as_posix()
        if rel.startswith(".") or "/." in rel or rel.endswith(".md"):
            continue  # README edits and hidden tool files do not change the vectors
        stat = file.stat()
        digest.update(f"{rel}\0{stat.st_size}\0".encode())
        if stat.st_size <= _FULL_HASH_LIMIT:
            digest.update(hashlib.sha256(file.read_bytes()).digest())
        else:
            digest.update(bytes.fromhex(memo.file_digest(file, stat)))
    memo.save()
    return digest.hexdigest()[:length]


def _hash_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(chunk)
    return digest.hexdigest()


class _Memo:
    """``{absolute path: {size, mtime_ns, ctime_ns, sha256}}`` persisted in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries = self._read()
        self.changed = False

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}  # absent or damaged: recompute what is needed and write a fresh one
        if not isinstance(data, dict) or data.get("format") != _MEMO_FORMAT:
            return {}
        files = data.get("files")
        return dict(files) if isinstance(files, dict) else {}

    def file_digest(self, file: Path, stat: os.stat_result) -> str:
        key = str(file.resolve())
        stamp = {"size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "ctime_ns": stat.st_ctime_ns}
        entry = self.entries.get(key)
        if isinstance(entry, dict) and {k: entry.get(k) for k in stamp} == stamp:
            known = entry.get("sha256")
            if isinstance(known, str) and _HEX64.fullmatch(known):
                return known
        self.entries[key] = {**stamp, "sha256": _hash_file(file)}
        self.changed = True
        return self.entries[key]["sha256"]

    def save(self) -> None:
        if not self.changed:
            return
        # Forget files that no longer exist, so the memo does not grow with deleted models.
        live = {k: v for k, v in self.entries.items() if Path(k).is_file()}
        try:
            atomic_write_json(self.path, {"format": _MEMO_FORMAT, "files": live})
        except OSError:
            pass  # a read-only cache folder only costs a re-read of the weights next time
