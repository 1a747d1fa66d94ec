"""What the user model is given, not what it changes: the catalog's arrays and the scenario.

``ReferenceParams`` is frozen data (gymnax's ``params``): item embeddings, quality, appeal, cost,
category ids, the category centroids (the trending topics), the two principal bases (the walk's
U_r and the new users' interest noise U_k), the user types' interests and the scenario with its
user model. ``catalog_bases`` and ``resolve_user_model`` are shared with the batched engine, so
both derive these arrays the same way.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from ..config import ScenarioConfig, UserModelConfig
from .exogenous import category_centroids, principal_basis

# Rank of the subspace of a new user's interest noise (``reference.new_users``).
NOISE_RANK = 32
# The reference computes in float64: it defines the model, so its own rounding should be
# negligible next to the float32 paths checked against it (see ``reference``'s docstring).
DTYPE = torch.float64


def resolve_user_model(model: UserModelConfig, cost: np.ndarray) -> UserModelConfig:
    """``model`` with its catalog-dependent defaults filled in: a ``price_reference`` of 0
    means the catalog's median cost (floored at 1e-6, so log(price / reference) is finite)."""
    if model.response.price_reference > 0:
        return model
    median = float(np.median(np.asarray(cost, dtype=np.float64)))
    response = replace(model.response, price_reference=max(median, 1e-6))
    return replace(model, response=response)


def catalog_bases(
    embeddings: torch.Tensor,
    category_ids: torch.Tensor,
    num_categories: int,
    model: UserModelConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(centroids (C, d), noise basis (NOISE_RANK, d), walk basis U_r (r, d) or None without a
    walk) from float32 embeddings (M, d). One SVD serves both bases: each is the top rows of the
    same principal directions."""
    ex = model.exogenous
    centroids = category_centroids(embeddings, category_ids, num_categories)
    walk = ex.enabled and ex.walk_std > 0
    directions = principal_basis(embeddings, max(NOISE_RANK, ex.rank if walk else 0))
    noise_basis = directions[:NOISE_RANK].contiguous()
    walk_basis = directions[: ex.rank].contiguous() if walk else None
    return centroids, noise_basis, walk_basis


def _check_arrays(
    emb: torch.Tensor, cats: torch.Tensor, num_categories: int, personas: Any, **per_item: Any
) -> None:
    """Shapes and values of the catalog arrays, each error naming the bad one."""
    if emb.dim() != 2 or emb.shape[0] == 0:
        raise ValueError(f"embeddings have shape {tuple(emb.shape)}; expected (M, d) with M > 0")
    if not bool(torch.isfinite(emb).all()):
        bad = int((~torch.isfinite(emb)).sum())
        raise ValueError(f"embeddings have {bad} non-finite values; expected finite values")
    m = emb.shape[0]
    for name, values in {"category_ids": cats.numpy(), **per_item}.items():
        arr = np.asarray(values)
        if arr.shape != (m,):
            raise ValueError(f"{name} has shape {arr.shape}; expected ({m},), one per item")
        if not np.isfinite(arr).all():
            bad = int((~np.isfinite(arr)).sum())
            raise ValueError(f"{name} has {bad} non-finite values; expected finite values")
    if int(cats.min()) < 0 or int(cats.max()) >= num_categories:
        raise ValueError(
            f"category_ids span [{int(cats.min())}, {int(cats.max())}]; expected ids in "
            f"[0, {num_categories})"
        )
    shape = np.shape(personas)
    if len(shape) != 2 or shape[0] == 0 or shape[1] != emb.shape[1]:
        raise ValueError(
            f"personas have shape {shape}; expected (P, {emb.shape[1]}) with P > 0 (interests "
            "in the catalog's embedding space)"
        )


@dataclass(frozen=True)
class ReferenceParams:
    """Catalog arrays (float64 copies of the engine's float32 ones) and the scenario.

    Shapes: M items, d embedding dim, C categories, r walk rank (0 without a walk), k noise rank,
    P user types, K slate size.
    """

    config: ScenarioConfig  # the scenario (reward, N, K, H, max_steps, ...)
    model: UserModelConfig  # config.user_model with the catalog-dependent defaults resolved
    embeddings: torch.Tensor  # (M, d) unit rows
    quality: torch.Tensor  # (M,) true quality
    appeal: torch.Tensor  # (M,) listing appeal (what attracts the click)
    cost: torch.Tensor  # (M,) minutes or price
    category_ids: torch.Tensor  # (M,) int64
    centroids: torch.Tensor  # (C, d) unit category centroids (trending topics)
    walk_basis: torch.Tensor  # (r, d) U_r, orthonormal rows; (0, d) without a walk
    noise_basis: torch.Tensor  # (k, d) new users' interest-noise directions
    personas: torch.Tensor  # (P, d) unit interests of the user types
    position_effect: torch.Tensor  # (K,) additive utility of each slate position

    @property
    def num_choice_draws(self) -> int:
        """Uniforms the choice model takes per user-step: 1 for mnl, K otherwise."""
        return 1 if self.model.choice.model == "mnl" else self.config.slate_size

    @property
    def rank(self) -> int:
        return int(self.walk_basis.shape[0])

    @property
    def trend(self) -> bool:
        ex = self.model.exogenous
        return ex.enabled and ex.trend_strength > 0

    @classmethod
    def from_arrays(
        cls,
        config: ScenarioConfig,
        embeddings: Any,
        quality: Any,
        appeal: Any,
        cost: Any,
        category_ids: Any,
        num_categories: int,
        personas: Any,
    ) -> ReferenceParams:
        """Params from raw catalog arrays (as ``Catalog`` holds them) and the user types'
        interests (``UserPool.interests``), derived exactly as the engine derives them."""
        emb = torch.tensor(np.array(embeddings, dtype=np.float32))
        cats = torch.tensor(np.array(category_ids, dtype=np.int64))
        _check_arrays(
            emb, cats, num_categories, personas, quality=quality, appeal=appeal, cost=cost
        )
        model = resolve_user_model(config.user_model, np.asarray(cost))
        centroids, noise_basis, walk_basis = catalog_bases(emb, cats, num_categories, model)
        if walk_basis is None:
            walk_basis = torch.empty(0, emb.shape[1])
        k = config.slate_size
        decay = model.choice.position_decay
        position = torch.arange(k, dtype=DTYPE)

        def f64(x: Any) -> torch.Tensor:
            return torch.tensor(np.array(x, dtype=np.float32)).to(DTYPE)

        return cls(
            config=config,
            model=model,
            embeddings=emb.to(DTYPE),
            quality=f64(quality),
            appeal=f64(appeal),
            cost=f64(cost),
            category_ids=cats,
            centroids=centroids.to(DTYPE),
            walk_basis=walk_basis.to(DTYPE),
            noise_basis=noise_basis.to(DTYPE),
            personas=f64(personas),
            position_effect=-decay * torch.log2(1.0 + position),
        )

    @classmethod
    def from_engine(cls, engine: Any) -> ReferenceParams:
        """The params of a built ``Engine`` (its catalog, scenario and user pool)."""
        catalog = engine.catalog
        return cls.from_arrays(
            engine.config,
            catalog.embeddings,
            catalog.quality,
            getattr(catalog, "appeal", catalog.quality),
            catalog.cost,
            catalog.category_ids,
            len(catalog.categories),
            engine.user_pool.interests,
        )
