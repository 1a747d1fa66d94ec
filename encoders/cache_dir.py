"""Where the on-disk embedding cache lives."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV_VAR = "DRIFTREC_CACHE_DIR"


def resolve_cache_dir(cache_dir: str | Path | None = None) -> Path:
    """Return the cache folder: ``cache_dir`` if given, else ``$DRIFTREC_CACHE_DIR``, else
    ``~/.cache/driftrec``. The folder is not created here; writers create it on first write.

    Read at call time (not import time) so tests and users can redirect it per run.
    """
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(CACHE_ENV_VAR)
    if env:
        return Path(env).expanduser()
    return Path.home() / ".cache" / "driftrec"
