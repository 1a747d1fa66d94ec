"""PCA projection of embeddings to fewer dimensions, fitted on a catalog.

The users' dynamics cost O(d) per item per step, so projecting 384-d MiniLM vectors to e.g. 64-d
buys speed. PCA keeps the directions along which the *catalog* varies most; rows are
re-normalised after projection because every consumer assumes unit vectors (cosine = dot).

``x_proj = normalize((x − mean) @ components.T)``, components = top right-singular vectors of the
centred catalog matrix, each signed so its largest-magnitude coordinate is positive (the SVD's
sign is arbitrary; fixing it makes the projection reproducible across BLAS builds).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import TextEncoder, l2_normalize
from .io import atomic_save


@dataclass(frozen=True, eq=False)
class PCAProjection:
    """A fitted linear projection ``(n, input_dim) → (n, dim)`` with unit-norm output rows."""

    mean: np.ndarray  # float32 (input_dim,)
    components: np.ndarray  # float32 (dim, input_dim), orthonormal rows

    @property
    def input_dim(self) -> int:
        return int(self.components.shape[1])

    @property
    def dim(self) -> int:
        return int(self.components.shape[0])

    @property
    def fingerprint(self) -> str:
        """Short content hash: part of a projected encoder's name, hence of its cache key."""
        digest = hashlib.sha256(self.mean.tobytes() + self.components.tobytes())
        return digest.hexdigest()[:10]

    @classmethod
    def fit(cls, embeddings: np.ndarray, dim: int) -> PCAProjection:
        """Fit on ``embeddings`` (n, d) and keep the top ``dim`` principal directions."""
        x = np.asarray(embeddings, dtype=np.float64)
        if x.ndim != 2:
            raise ValueError(f"embeddings must be a 2-d array (n, d), got shape {x.shape}")
        n, d = x.shape
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        if not 0 < dim <= d:
            raise ValueError(f"PCA dim must be in [1, {d}] (the input dimension), got {dim}")
        if dim > n:
            raise ValueError(
                f"PCA dim {dim} exceeds the number of embeddings {n}; fit on at least {dim} rows"
            )
        if not np.all(np.isfinite(x)):
            raise ValueError("embeddings contain NaN or inf")
        mean = x.mean(axis=0)
        _, _, vt = np.linalg.svd(x - mean, full_matrices=False)
        components = vt[:dim]
        pivots = np.argmax(np.abs(components), axis=1)
        signs = np.sign(components[np.arange(dim), pivots])
        components = components * np.where(signs == 0, 1.0, signs)[:, None]
        return cls(mean=mean.astype(np.float32), components=components.astype(np.float32))

    def transform(self, x: np.ndarray) -> np.ndarray:
        """Project (n, input_dim) or (input_dim,) rows; returns float32 unit rows."""
        array = np.asarray(x, dtype=np.float32)
        single = array.ndim == 1
        rows = array[None, :] if single else array
        if rows.ndim != 2 or rows.shape[1] != self.input_dim:
            raise ValueError(
                f"expected embeddings of shape (n, {self.input_dim}), got {array.shape}"
            )
        out = l2_normalize((rows - self.mean) @ self.components.T)
        return out[0] if single else out

    def save(self, path: str | Path) -> None:
        """Write the projection as an ``.npz`` file (atomically)."""
        atomic_save(path, lambda f: np.savez(f, mean=self.mean, components=self.components))

    @classmethod
    def load(cls, path: str | Path) -> PCAProjection:
        with np.load(path, allow_pickle=False) as data:
            return cls(
                mean=data["mean"].astype(np.float32),
                components=data["components"].astype(np.float32),
            )


class ProjectedEncoder:
    """An encoder followed by a PCA projection; ``name`` records the projection."""

    def __init__(self, encoder: TextEncoder, projection: PCAProjection) -> None:
        if encoder.dim != projection.input_dim:
            raise ValueError(
                f"projection expects {projection.input_dim}-d input but encoder "
                f"{encoder.name!r} gives {encoder.dim}-d vectors"
            )
        self.inner = encoder
        self.projection = projection
        self.dim = projection.dim
        self.name = f"{encoder.name}+pca{projection.dim}-{projection.fingerprint}"

    @classmethod
    def fit(cls, encoder: TextEncoder, texts: Sequence[str], dim: int) -> ProjectedEncoder:
        """Fit the projection on the encodings of ``texts`` (e.g. a catalog) and wrap."""
        return cls(encoder, PCAProjection.fit(encoder.encode(texts), dim))

    def __repr__(self) -> str:
        return f"ProjectedEncoder({self.inner!r}, dim={self.dim})"

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Encode with the inner encoder (which validates and cleans), then project."""
        vectors = self.inner.encode(
            texts, batch_size=batch_size, show_progress_bar=show_progress_bar
        )
        return self.projection.transform(vectors)
