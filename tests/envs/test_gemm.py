"""The similarity product: exact float32, and rows independent of row count and position."""

from __future__ import annotations

import pytest
import torch
from driftrec.envs import gemm


def _random(rows: int, cols: int, dim: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    a = torch.randn(rows, dim, generator=gen)
    b = torch.randn(cols, dim, generator=gen)
    return a / a.norm(dim=1, keepdim=True), b / b.norm(dim=1, keepdim=True)


@pytest.mark.parametrize("dim", [16, 64, 384])
def test_similarity_product_is_float32_exact(dim: int) -> None:
    rows, columns = _random(300, 101, dim)
    out = gemm.similarity_product(rows, columns)
    reference = rows.double() @ columns.double().T
    assert out.dtype == torch.float32 and out.shape == (300, 101)
    assert (out.double() - reference).abs().max().item() < 1e-5


@pytest.mark.parametrize("dim", [16, 384, 400])  # 400: d + r of the engine's product
def test_similarity_rows_do_not_depend_on_count_or_position(dim: int) -> None:
    """What batch-size invariance needs: row i of a block equals row i of the whole product,
    for every block of at least MIN_GEMM_ROWS rows at any offset."""
    rows, columns = _random(600, 101, dim, seed=1)
    full = gemm.similarity_product(rows, columns)
    for count in (gemm.MIN_GEMM_ROWS, 9, 33, 128, 257):
        for offset in (0, 1, 7, 64):
            block = gemm.similarity_product(rows[offset : offset + count], columns)
            assert torch.equal(block, full[offset : offset + count]), (count, offset)


def test_rows_stable_mm_pads_tiny_matrices() -> None:
    rows, columns = _random(64, 20, 32, seed=2)
    full = gemm.rows_stable_mm(rows, columns.T)
    for count in (1, 2, 5, 8):
        assert torch.equal(gemm.rows_stable_mm(rows[:count], columns.T), full[:count])


def test_falls_back_to_torch_mm_without_onednn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gemm, "onednn_available", lambda: False)
    rows, columns = _random(40, 12, 24, seed=3)
    assert torch.equal(gemm.similarity_product(rows, columns), rows @ columns.T)


def test_onednn_path_is_taken_when_the_probe_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    if not gemm.onednn_available():
        pytest.skip("this torch build has no usable oneDNN product")
    calls = []
    real = gemm._onednn_linear

    def spy(rows: torch.Tensor, columns: torch.Tensor) -> torch.Tensor:
        calls.append(rows.shape)
        return real(rows, columns)

    monkeypatch.setattr(gemm, "_onednn_linear", spy)
    rows, columns = _random(40, 12, 24, seed=4)
    gemm.similarity_product(rows, columns)
    gemm.similarity_product(rows.double(), columns.double())  # not float32: torch.mm
    assert calls == [(40, 24)]
