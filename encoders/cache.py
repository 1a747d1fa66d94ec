"""On-disk embedding cache: a second encode of the same texts computes nothing.

Layout under ``resolve_cache_dir()``::

    embeddings/<encoder-slug>-<hash of name>/shard-<hash of keys>.npz

One folder per encoder ``name`` (which carries the model revision, so a changed model never
reads stale vectors). Each ``encode`` call that computes new texts writes one shard holding
``keys`` (uint8 (n, 32): sha256 of the cleaned text), ``vectors`` (float32 (n, dim)), the
encoder ``name``, and two content digests: ``texts_sha256`` over the keys in row order and
``vectors_sha256`` over the vectors' bytes. The digests tie each vector to its text: a shard
whose rows were reordered or edited and re-saved as a valid file fails them. The index is the
union of the shards, loaded into memory once and refreshed with shards other processes add.
Shards are written atomically (``driftrec.encoders.io``), so concurrent writers never clobber
each other; once there are more than ``MAX_SHARDS`` they are merged into one. A ~10k-text
catalog is one shard and one read.

A shard that cannot be read or fails its checks (truncated zip, missing arrays, mismatched
lengths, non-finite or non-unit rows, a digest that does not match the rows, or no digests —
a shard from before they existed) is reported once with a ``CacheCorruptionWarning`` naming
the file, deleted, and its texts are recomputed and written again. A shard whose vectors have a
different dimension than the encoder is *not* silently dropped: it means two encoders share one
name, a bug that rebuilding would hide, so it raises ``ValueError`` naming the file.
"""

from __future__ import annotations

import hashlib
import re
import warnings
import zipfile
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import TextEncoder, validate_batch_size, validate_progress_bar, validate_texts
from .cache_dir import resolve_cache_dir
from .cleaning import clean_text
from .io import atomic_save

MAX_SHARDS = 32
_KEY_BYTES = 32
_UNIT_TOLERANCE = 1e-3


class CacheCorruptionWarning(UserWarning):
    """A cache file was unreadable or inconsistent; it is deleted and its vectors recomputed."""


class CachedEncoder:
    """Wrap any ``TextEncoder`` with the on-disk cache; same ``name`` and ``dim`` as the inner.

    Identical texts (after cleaning) are computed once, also within one call.
    """

    def __init__(self, encoder: TextEncoder, cache_dir: str | Path | None = None) -> None:
        self.inner = encoder
        self.name: str = encoder.name
        self.dim: int = int(encoder.dim)
        self.cache_dir = resolve_cache_dir(cache_dir)
        if self.cache_dir.exists() and not self.cache_dir.is_dir():
            raise ValueError(f"embedding cache folder {str(self.cache_dir)!r} is a file; "
                             "expected a folder (or a path that does not exist yet)")
        self.folder = self.cache_dir / "embeddings" / _folder_name(self.name)
        self._vectors: dict[bytes, np.ndarray] = {}
        self._loaded: set[str] = set()
        self._reported: set[str] = set()

    def __repr__(self) -> str:
        return f"CachedEncoder({self.inner!r}, cache_dir={str(self.cache_dir)!r})"

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Return float32 (n, dim) unit rows, computing only texts missing from the cache."""
        items = validate_texts(texts)
        batch_size = validate_batch_size(batch_size)
        validate_progress_bar(show_progress_bar)
        cleaned = [clean_text(t) for t in items]
        keys = [hashlib.sha256(t.encode("utf-8")).digest() for t in cleaned]
        self._refresh()

        missing: dict[bytes, str] = {}
        for key, text in zip(keys, cleaned):
            if key not in self._vectors and key not in missing:
                missing[key] = text
        if missing:
            new_keys = list(missing)
            vectors = self.inner.encode(
                list(missing.values()),
                batch_size=batch_size,
                show_progress_bar=show_progress_bar,
            )
            vectors = np.asarray(vectors, dtype=np.float32)
            if vectors.shape != (len(new_keys), self.dim):
                raise RuntimeError(
                    f"encoder {self.name!r} returned shape {vectors.shape} for "
                    f"{len(new_keys)} texts; expected ({len(new_keys)}, {self.dim})"
                )
            self._write_shard(new_keys, vectors)
            self._compact_if_needed()
        return np.stack([self._vectors[key] for key in keys]).astype(np.float32, copy=False)

    # -- disk ---------------------------------------------------------------------------------

    def _refresh(self) -> None:
        """Load shards not seen yet (written by an earlier run or another process)."""
        if not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("shard-*.npz")):
            if path.name not in self._loaded:
                self._load_shard(path)

    def _load_shard(self, path: Path) -> None:
        try:
            keys, vectors = self._read_shard(path)
        except FileNotFoundError:
            return  # merged away by a concurrent compaction; its rows live in the merged shard
        except _CorruptShard as error:
            self._report_corrupt(path, str(error))
            return
        self._loaded.add(path.name)
        for row, key in enumerate(keys):
            self._vectors[key.tobytes()] = vectors[row]

    def _read_shard(self, path: Path) -> tuple[np.ndarray, np.ndarray]:
        try:
            # Open the file ourselves: np.load leaks the handle when the zip is truncated.
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as data:
                keys = np.asarray(data["keys"])
                vectors = np.asarray(data["vectors"])
                name = str(data["name"])
                digests = (str(data["texts_sha256"]), str(data["vectors_sha256"]))
        except FileNotFoundError:
            raise
        except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as error:
            raise _CorruptShard(f"unreadable ({type(error).__name__}: {error})") from None
        if keys.dtype != np.uint8 or keys.ndim != 2 or keys.shape[1] != _KEY_BYTES:
            raise _CorruptShard(f"bad keys array {keys.dtype} {keys.shape}")
        if vectors.ndim != 2 or vectors.shape[0] != keys.shape[0]:
            raise _CorruptShard(f"vectors {vectors.shape} do not match {keys.shape[0]} keys")
        if name != self.name:
            raise _CorruptShard(f"written for encoder {name!r}, not {self.name!r}")
        if vectors.shape[1] != self.dim:
            raise ValueError(
                f"embedding cache file {path} holds {vectors.shape[1]}-d vectors but encoder "
                f"{self.name!r} has dim {self.dim}; two encoders share one name. Delete "
                f"{self.folder} to rebuild it."
            )
        vectors = vectors.astype(np.float32, copy=False)
        for what, recorded, actual in zip(("texts", "vectors"), digests, _digests(keys, vectors)):
            if recorded != actual:
                raise _CorruptShard(f"its {what} do not match the {what}_sha256 written with them "
                                    f"({recorded[:12]}... recorded, {actual[:12]}... found)")
        norms = np.linalg.norm(vectors, axis=1)
        if not np.all(np.isfinite(norms)) or np.any(np.abs(norms - 1.0) > _UNIT_TOLERANCE):
            raise _CorruptShard("vectors are not finite unit rows")
        return keys, vectors

    def _report_corrupt(self, path: Path, reason: str) -> None:
        if path.name not in self._reported:
            self._reported.add(path.name)
            warnings.warn(
                f"embedding cache file {path} is corrupt ({reason}); deleting it and "
                "recomputing its embeddings",
                CacheCorruptionWarning,
                stacklevel=5,
            )
        path.unlink(missing_ok=True)

    def _write_shard(self, keys: list[bytes], vectors: np.ndarray) -> None:
        key_array = np.frombuffer(b"".join(keys), dtype=np.uint8).reshape(len(keys), _KEY_BYTES)
        texts_digest, vectors_digest = _digests(key_array, vectors)
        # Named by content: two processes caching the same texts write the same file.
        path = self.folder / f"shard-{hashlib.sha256(key_array.tobytes()).hexdigest()[:20]}.npz"
        atomic_save(
            path,
            lambda handle: np.savez(
                handle,
                keys=key_array,
                vectors=vectors,
                name=np.array(self.name),
                texts_sha256=np.array(texts_digest),
                vectors_sha256=np.array(vectors_digest),
            ),
        )
        self._loaded.add(path.name)
        for row, key in enumerate(keys):
            self._vectors[key] = vectors[row]

    def _compact_if_needed(self) -> None:
        """Merge many small shards into one so loading stays a handful of reads."""
        shards = [self.folder / name for name in sorted(self._loaded)]
        if len(shards) <= MAX_SHARDS:
            return
        keys = list(self._vectors)
        self._write_shard(keys, np.stack([self._vectors[k] for k in keys]))
        merged = self.folder / f"shard-{hashlib.sha256(b''.join(keys)).hexdigest()[:20]}.npz"
        for path in shards:
            if path != merged:
                path.unlink(missing_ok=True)
        self._loaded = {merged.name}


class _CorruptShard(Exception):
    """Internal: a shard failed a check; the message says which."""


def _digests(keys: np.ndarray, vectors: np.ndarray) -> tuple[str, str]:
    """sha256 of the text keys in row order, and of the float32 little-endian vector bytes."""
    texts = hashlib.sha256(np.ascontiguousarray(keys, dtype=np.uint8).tobytes()).hexdigest()
    values = hashlib.sha256(np.ascontiguousarray(vectors, dtype="<f4").tobytes()).hexdigest()
    return texts, values


def _folder_name(name: str) -> str:
    """A file-system-safe, collision-free folder name for an encoder name."""
    slug = re.sub(r"[^A-Za-z0-9._-]+", "_", name)[:60].strip("._") or "encoder"
    return f"{slug}-{hashlib.sha256(name.encode('utf-8')).hexdigest()[:12]}"
