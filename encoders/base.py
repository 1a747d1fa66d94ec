"""The ``TextEncoder`` protocol and the checks and helpers every encoder shares.

Each encoder validates its input at the edge (one place, one message), normalises rows to unit
length, and decides on a progress bar the same way, so callers see one behaviour whatever model
sits behind the protocol.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Protocol, runtime_checkable

import numpy as np

# Above this many texts a progress bar is shown when the caller did not choose (None): short
# encodes in tests and agents stay quiet, catalog-sized encodes show that work is happening.
PROGRESS_BAR_THRESHOLD = 1000


@runtime_checkable
class TextEncoder(Protocol):
    """Text → unit vectors in a fixed-dimensional embedding space.

    ``name`` identifies the model *and its revision*; it is the cache key, so two encoders with
    the same name must produce the same vectors.
    """

    name: str
    dim: int

    def encode(
        self,
        texts: Sequence[str],
        *,
        batch_size: int = 64,
        show_progress_bar: bool | None = None,
    ) -> np.ndarray:
        """Return a float32 array (n, dim) of unit-norm rows, one per text, in input order."""
        ...


def validate_texts(texts: Sequence[str]) -> list[str]:
    """Check ``texts`` is a non-empty sequence of ``str`` and return it as a list.

    A bare string is rejected rather than treated as a sequence of characters, which would
    silently encode each letter.
    """
    if isinstance(texts, (str, bytes)):
        raise TypeError(
            f"texts must be a list of strings, got a single {type(texts).__name__}; "
            "wrap it in a list: encode([text])"
        )
    try:
        items = list(texts)
    except TypeError:
        raise TypeError(f"texts must be a list of strings, got {type(texts).__name__}") from None
    if not items:
        raise ValueError("encode() got an empty list; expected a non-empty list of strings")
    for index, item in enumerate(items):
        if not isinstance(item, str):
            raise TypeError(f"texts[{index}] is {type(item).__name__}, expected str")
    return items


def validate_batch_size(batch_size: int) -> int:
    """Reject batch sizes that would loop forever or silently do nothing."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
        raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
    if batch_size <= 0:
        raise ValueError(f"batch_size must be positive, got {batch_size}")
    return int(batch_size)


def want_progress_bar(show_progress_bar: bool | None, n: int) -> bool:
    """Resolve the ``show_progress_bar`` keyword: None means 'only for long inputs'."""
    if validate_progress_bar(show_progress_bar) is None:
        return n > PROGRESS_BAR_THRESHOLD
    return bool(show_progress_bar)


def validate_progress_bar(show_progress_bar: bool | None) -> bool | None:
    """Reject a truthy non-bool (``"no"`` would otherwise mean yes)."""
    if show_progress_bar is not None and not isinstance(show_progress_bar, (bool, np.bool_)):
        raise TypeError(f"show_progress_bar must be True, False or None, got "
                        f"{show_progress_bar!r} ({type(show_progress_bar).__name__})")
    return show_progress_bar


def batches(n: int, batch_size: int, *, progress: bool, desc: str) -> Iterator[slice]:
    """Yield slices over ``range(n)``, wrapped in a tqdm bar when ``progress`` is set."""
    starts: Iterator[int] | range = range(0, n, batch_size)
    if progress:
        from tqdm.auto import tqdm

        starts = tqdm(starts, total=-(-n // batch_size), desc=desc, unit="batch")
    for start in starts:
        yield slice(start, min(start + batch_size, n))


def l2_normalize(x: np.ndarray) -> np.ndarray:
    """Return float32 rows scaled to unit length.

    Rows of zero norm cannot be normalised; they become the first basis vector so the output is
    always unit-norm and never NaN (downstream cosine similarities stay defined).
    """
    x = np.asarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    zero = norms[:, 0] <= 1e-12
    out = x / np.where(norms > 1e-12, norms, 1.0)
    if zero.any():
        out[zero] = 0.0
        out[zero, 0] = 1.0
    return out.astype(np.float32, copy=False)
