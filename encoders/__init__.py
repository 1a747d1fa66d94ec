"""driftrec.encoders: text → unit vectors in a language-model embedding space.

``load_encoder(spec)`` is the entry point (``"minilm"``, ``"hashing"`` or a local model
directory); every encoder follows the ``TextEncoder`` protocol, cleans text with ``clean_text``
first, and is wrapped by an on-disk cache under ``resolve_cache_dir()`` unless ``cache=False``.
Model-backed classes import torch/transformers lazily so that ``import driftrec.encoders`` is cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import TextEncoder
from .cache_dir import resolve_cache_dir
from .cleaning import clean_text
from .hashing import HashingEncoder
from .loader import load_encoder

if TYPE_CHECKING:
    from .cache import CachedEncoder
    from .projection import PCAProjection, ProjectedEncoder
    from .sentence import SentenceTransformerEncoder
    from .transformers_encoder import TransformersEncoder

_LAZY = {
    "CachedEncoder": ".cache",
    "PCAProjection": ".projection",
    "ProjectedEncoder": ".projection",
    "SentenceTransformerEncoder": ".sentence",
    "TransformersEncoder": ".transformers_encoder",
}

__all__ = [
    "CachedEncoder",
    "HashingEncoder",
    "PCAProjection",
    "ProjectedEncoder",
    "SentenceTransformerEncoder",
    "TextEncoder",
    "TransformersEncoder",
    "clean_text",
    "load_encoder",
    "resolve_cache_dir",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(module, __name__), name)
