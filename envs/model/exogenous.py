"""Exogenous interest drift: what moves a user's interest besides the recommender.

    u ← u + walk_std · z U_r + trend_strength · c_t        (normalised by the engine)

``U_r`` (r, d) holds the catalog's top-r principal directions, so the random walk moves interest
along directions in which items actually differ and costs B×r normal draws instead of B×d.
``c_t`` is the unit centroid of a "trending" category chosen by hash of (seed, t // period): the
whole population is nudged toward the same topic for a period, then another.

``apply_exogenous`` is the direct formula, which the reference step (``envs/model/reference.py``)
uses; the batched engine adds ``n·(z U_r + τ c)`` to its unnormalised interest and updates the
norm in closed form, and is tested against the reference.
"""

from __future__ import annotations

import torch

from .. import rng
from ..config import ExogenousConfig
from ..gemm import rows_stable_mm


def principal_basis(embeddings: torch.Tensor, rank: int) -> torch.Tensor:
    """(r, d) top principal directions of the (M, d) embeddings (r clipped to min(M, d))."""
    centred = embeddings - embeddings.mean(dim=0, keepdim=True)
    r = min(rank, *centred.shape)
    _, _, vh = torch.linalg.svd(centred.double(), full_matrices=False)
    return vh[:r].to(embeddings.dtype).contiguous()


def category_centroids(
    embeddings: torch.Tensor, category_ids: torch.Tensor, c: int
) -> torch.Tensor:
    """(C, d) unit mean embedding of each category (zero for an empty category)."""
    sums = torch.zeros(c, embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
    sums.index_add_(0, category_ids, embeddings)
    return sums / torch.linalg.vector_norm(sums, dim=1, keepdim=True).clamp_min(1e-12)


def trending_category(seed: int, global_step: int, num_categories: int, period: int) -> int:
    """The trending category id during the period that contains ``global_step``."""
    return rng.mix_int(seed, rng.STREAM_TREND, global_step // period) % num_categories


def apply_exogenous(
    interest: torch.Tensor,
    normals: torch.Tensor | None,
    basis: torch.Tensor,
    trend: torch.Tensor | None,
    config: ExogenousConfig,
) -> None:
    """In place on (B, d) ``interest``; ``normals`` (B, r), ``trend`` (d,) unit or None."""
    if not config.enabled:
        return
    if normals is not None and config.walk_std > 0:
        interest.add_(rows_stable_mm(normals, basis), alpha=config.walk_std)
    if trend is not None and config.trend_strength > 0:
        interest.add_(trend, alpha=config.trend_strength)
