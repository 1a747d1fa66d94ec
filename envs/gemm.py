"""Matrix products whose rows do not depend on how many rows there are, and the fast one.

Batch-size invariance (a user's numbers do not depend on B or on its slot) holds only if every
product computes each row the same way whatever the row count and the row's position. The BLAS
kernels do, above a few rows: MKL and oneDNN take another code path for tiny matrices, whose
rounding differs, so products pad to ``MIN_GEMM_ROWS`` rows.

The per-pool similarity product ``rows @ columns.T`` (the one O(B·N·d) cost of a step) goes
through oneDNN where the build has it: MKL's sgemm runs its AVX2 path on AMD CPUs, oneDNN uses
AVX-512 there (the measurement is in ``docs/performance.md``). oneDNN's rows are as position- and
count-independent as MKL's from 2 rows on (``tests/envs/test_gemm.py``). Its fixed cost per call
is higher than MKL's, which small batches pay; the product cannot switch kernels by size, since a
user's rows must not depend on B.
"""

from __future__ import annotations

import functools

import torch

# Products with fewer rows than this take a different kernel whose rounding differs; padding
# keeps every user's numbers independent of B (batch-size invariance to the bit).
MIN_GEMM_ROWS = 8


def rows_stable_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` whose rows do not depend on how many rows ``a`` has (pads tiny ``a``)."""
    m = a.shape[0]
    if m >= MIN_GEMM_ROWS:
        return a @ b
    padded = torch.zeros(MIN_GEMM_ROWS, a.shape[1], dtype=a.dtype, device=a.device)
    padded[:m] = a
    return (padded @ b)[:m]


def _onednn_linear(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """``rows @ columns.T`` by oneDNN's inner-product primitive (the op torch.compile uses)."""
    return torch.ops.mkldnn._linear_pointwise(rows, columns, None, "none", [], "")


@functools.cache
def onednn_available() -> bool:
    """Whether this torch build runs oneDNN's float32 product, and it agrees with ``torch.mm``.

    The op is internal to torch (the inductor's CPU backend calls it), so it is probed once
    rather than trusted: any failure or disagreement falls back to ``torch.mm``.
    """
    if not torch.backends.mkldnn.is_available():
        return False
    gen = torch.Generator().manual_seed(0)
    rows = torch.randn(MIN_GEMM_ROWS * 4, 48, generator=gen)
    columns = torch.randn(12, 48, generator=gen)
    try:
        out = _onednn_linear(rows, columns)
    except (AttributeError, NotImplementedError, RuntimeError):
        return False
    expected = rows @ columns.T
    return out.shape == expected.shape and bool(torch.allclose(out, expected, atol=1e-4))


def similarity_product(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
    """A new ``rows @ columns.T`` (float32; ``rows`` has at least ``MIN_GEMM_ROWS`` rows)."""
    if (
        rows.device.type == "cpu"
        and rows.dtype == torch.float32
        and columns.dtype == torch.float32
        and onednn_available()
    ):
        return _onednn_linear(rows, columns.contiguous())
    return rows @ columns.T
