"""A deterministic hashing encoder: no model, no download, thousands of texts per second.

Each text is cleaned, lower-cased and split into words; every word unigram and adjacent-word
bigram is hashed (blake2b, so the result is the same in every process — Python's ``hash()`` is
salted per process) to a bucket in ``[0, dim)`` and a sign in {−1, +1} (the "hashing trick",
Weinberger et al. 2009: the signs make collisions cancel in expectation). The counts are
L2-normalised. Texts that share words get positive cosine, so it is a crude but meaningful
stand-in for a language model in fast tests.
"""

from __future__ import annotations

import hashlib
import itertools
import re
from collections.abc import Sequence

import numpy as np

from .base import batches, l2_normalize, validate_batch_size, validate_texts, want_progress_bar
from .cleaning import clean_text

_WORD = re.compile(r"\w+", re.UNICODE)
# Texts with no words after cleaning all map to the vector of this token: a fixed unit vector,
# never NaN, and distinct from any real word's direction in general.
_EMPTY_TOKEN = "\x00<empty>"
_VERSION = "v1"  # bump when the tokenisation or hashing changes, to invalidate caches


class HashingEncoder:
    """Signed feature hashing of word unigrams and bigrams into ``dim`` buckets."""

    def __init__(self, dim: int = 256) -> None:
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)) or dim <= 0:
            raise ValueError(f"HashingEncoder dim must be a positive int, got {dim!r}")
        self.dim = int(dim)
        self.name = f"hashing-{self.dim}@{_VERSION}"
        # token -> signed bucket (bucket + 1, negated for sign −1); bounded by the vocabulary.
        self._buckets: dict[str, int] = {}

    def __repr__(self) -> str:
        return f"HashingEncoder(dim={self.dim})"

    def _signed_bucket(self, token: str) -> int:
        digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8, person=b"driftrec").digest()
        value = int.from_bytes(digest, "little")
        bucket = (value >> 1) % self.dim + 1
        return bucket if value & 1 else -bucket

    def _features(self, text: str) -> list[int]:
        words = _WORD.findall(clean_text(text).lower())
        tokens = (
            words + [f"{a} {b}" for a, b in itertools.pairwise(words)] if words else [_EMPTY_TOKEN]
        )
        known = self._buckets
        try:
            return [known[token] for token in tokens]
        except KeyError:
            for token in tokens:
                if token not in known:
                    known[token] = self._signed_bucket(token)
            return [known[token] for token in tokens]

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Return float32 (n, dim) unit rows. ``batch_size`` only paces the progress bar."""
        items = validate_texts(texts)
        batch_size = validate_batch_size(batch_size)
        out = np.zeros((len(items), self.dim), dtype=np.float32)
        # Bigger chunks than the model encoders: the per-chunk cost here is only Python overhead.
        chunk = max(batch_size, 1024)
        progress = want_progress_bar(show_progress_bar, len(items))
        for part in batches(len(items), chunk, progress=progress, desc=self.name):
            rows: list[int] = []
            cols: list[int] = []
            for row, text in enumerate(items[part], start=part.start):
                feats = self._features(text)
                rows.extend([row] * len(feats))
                cols.extend(feats)
            signed = np.asarray(cols, dtype=np.int64)
            np.add.at(
                out,
                (np.asarray(rows, dtype=np.int64), np.abs(signed) - 1),
                np.sign(signed).astype(np.float32),
            )
        return l2_normalize(out)
