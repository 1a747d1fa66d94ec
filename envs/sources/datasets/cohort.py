"""From a loaded data set to what the simulator needs: a ``Catalog``, a ``UserPool`` and the
held-out tails that validate it.

Per user with T interactions (time order):

    init     = the first max(min_init, ceil(init_fraction·T)) items   → initial interest
    held-in  = the middle                                              → calibration
    held-out = the last max(min_heldout, ceil(heldout_fraction·T))     → validation only

Users too short for all three parts (``min_length``) are left out of the cohort.

Initial interest (the DESIGN's "from their history"): a recency-weighted mean of the encoded init
items, ``u0 = normalise(sum_k w_k e_k)`` with ``w_k = 2**(-(n-1-k)/half_life)`` — recent taste
counts more — over the items the user did not dislike (rating >= the scale's midpoint; all of
them if none qualify), plus ``profile_weight`` times the encoded profile text when the data has
one (ml-100k ``u.user``).

Item statistics use init + held-in rows only, never the held-out tail (no leakage into the
validation):

- quality = mean rating shrunk toward the global mean, ``(sum_j + k·g) / (n_j + k)``, mapped from
  the rating scale to [0, 1] (k = ``quality_shrinkage`` pseudo-ratings: an item rated once by a
  fan is not the best item). Without ratings (MIND) the same shrinkage is applied to the
  click-through rate in the impressions, scaled to [0, 1] by the largest value;
- cost = the data's value (Amazon price) where it exists, else the domain default of
  ``DEFAULT_COST`` (MovieLens and MIND record no runtime/reading time);
- popularity = interaction count + 1 (a public prior the agents may use);
- appeal (the choice model's item term, ``gamma·appeal_j``) = ``log(1 + count) / log(1 + max
  count)`` in [0, 1] with ``appeal_from="popularity"`` (the default): in a log, how often an
  item is chosen folds its attractiveness and its exposure together, and a choice model without
  that term loses even to a popularity ranking on held-out next items; ``"quality"`` uses the
  quality above instead (the built-in catalogs' convention when a record gives no appeal).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .base import Dataset

# Scenario-scale costs for data sets that do not record one (minutes for video/news, a price for
# shopping): the scenario budgets are calibrated to these units.
DEFAULT_COST = {"video": 10.0, "news": 3.0, "shopping": 30.0}


@dataclass(frozen=True)
class CohortConfig:
    """How histories are split and summarised (see the module docstring)."""

    init_fraction: float = 0.2
    min_init: int = 5
    heldout_fraction: float = 0.2
    min_heldout: int = 2
    min_heldin: int = 2
    recency_half_life: float = 5.0
    profile_weight: float = 0.0
    quality_shrinkage: float = 10.0
    appeal_from: str = "popularity"

    def __post_init__(self) -> None:
        if self.appeal_from not in ("popularity", "quality"):
            raise ValueError(
                f"CohortConfig.appeal_from must be 'popularity' or 'quality', got {self.appeal_from!r}")
        for name in ("init_fraction", "heldout_fraction"):
            v = getattr(self, name)
            if not 0.0 <= v < 1.0:
                raise ValueError(f"CohortConfig.{name} must be in [0, 1), got {v!r}")
        if self.init_fraction + self.heldout_fraction >= 1.0:
            raise ValueError("CohortConfig.init_fraction + heldout_fraction must be < 1")
        for name in ("min_init", "min_heldout", "min_heldin"):
            if getattr(self, name) < 1:
                raise ValueError(f"CohortConfig.{name} must be >= 1, got {getattr(self, name)!r}")
        for name in ("recency_half_life", "quality_shrinkage"):
            if getattr(self, name) <= 0:
                raise ValueError(f"CohortConfig.{name} must be > 0, got {getattr(self, name)!r}")
        if self.profile_weight < 0:
            raise ValueError(f"CohortConfig.profile_weight must be >= 0, got {self.profile_weight!r}")

    @property
    def min_length(self) -> int:
        return self.min_init + self.min_heldin + self.min_heldout


@dataclass(frozen=True)
class Split:
    """Which users are in the cohort and where each one's parts start (positions in the user's
    own sequence): init = [0, init_end), held-in = [init_end, heldout_start), held-out = rest."""

    users: np.ndarray  # (U,) int64 indices into dataset.interactions
    init_end: np.ndarray  # (U,) int64
    heldout_start: np.ndarray  # (U,) int64
    lengths: np.ndarray  # (U,) int64

    def __len__(self) -> int:
        return int(self.users.shape[0])

    def row_parts(self, offsets: np.ndarray, num_rows: int) -> np.ndarray:
        """(n,) int8 per interaction row: 0 init, 1 held-in, 2 held-out, -1 user not in cohort."""
        part = np.full(num_rows, -1, dtype=np.int8)
        for u, a, b in zip(self.users, self.init_end, self.heldout_start):
            start, end = int(offsets[u]), int(offsets[u + 1])
            part[start:end] = 2
            part[start : start + int(b)] = 1
            part[start : start + int(a)] = 0
        return part


def split_sequences(dataset: Dataset, config: CohortConfig | None = None) -> Split:
    """The init / held-in / held-out split of every long-enough user (vectorised over users)."""
    config = config or CohortConfig()
    lengths = dataset.interactions.lengths()
    users = np.nonzero(lengths >= config.min_length)[0].astype(np.int64)
    if users.shape[0] == 0:
        raise ValueError(
            f"no user of {dataset.name!r} has the {config.min_length} interactions a cohort needs "
            f"(min_init + min_heldin + min_heldout); the longest has {int(lengths.max(initial=0))}"
        )
    n = lengths[users]
    init = np.maximum(config.min_init, np.ceil(config.init_fraction * n)).astype(np.int64)
    held = np.maximum(config.min_heldout, np.ceil(config.heldout_fraction * n)).astype(np.int64)
    # Long users could make init + held-out swallow the held-in part; held-in keeps its minimum.
    init = np.minimum(init, n - held - config.min_heldin)
    return Split(users=users, init_end=init, heldout_start=n - held, lengths=n.astype(np.int64))


def item_statistics(
    dataset: Dataset, split: Split, config: CohortConfig | None = None
) -> dict[str, np.ndarray]:
    """quality, appeal, cost and popularity (M,) from init + held-in rows (see the module
    docstring)."""
    config = config or CohortConfig()
    inter, m = dataset.interactions, len(dataset.items)
    part = split.row_parts(inter.offsets, len(inter))
    train = (part == 0) | (part == 1)
    items = inter.items[train]
    counts = np.bincount(items, minlength=m).astype(np.float64)
    k = config.quality_shrinkage
    quality = np.full(m, 0.5)
    if dataset.rating_range is not None:
        low, high = dataset.rating_range
        ratings = inter.ratings[train].astype(np.float64)
        ok = np.isfinite(ratings)
        sums = np.bincount(items[ok], weights=ratings[ok], minlength=m)
        n = np.bincount(items[ok], minlength=m).astype(np.float64)
        g = float(sums.sum() / max(n.sum(), 1.0)) if n.sum() else (low + high) / 2
        quality = ((sums + k * g) / (n + k) - low) / (high - low)
    elif dataset.impressions is not None and len(dataset.impressions) > 0:
        imp = dataset.impressions
        shown = np.bincount(imp.items, minlength=m).astype(np.float64)
        clicked = np.bincount(imp.items, weights=imp.clicks.astype(np.float64), minlength=m)
        g = clicked.sum() / max(shown.sum(), 1.0)
        ctr = (clicked + k * g) / (shown + k)
        quality = ctr / max(float(ctr.max()), 1e-12)
    given_q = dataset.items.quality
    quality = np.where(np.isfinite(given_q), given_q, quality)
    cost = dataset.items.cost.astype(np.float64)
    default_cost = DEFAULT_COST.get(dataset.domain, 1.0)
    cost = np.where(np.isfinite(cost) & (cost >= 0), cost, default_cost)
    quality = np.clip(quality, 0.0, 1.0)
    if config.appeal_from == "popularity":
        appeal = np.log1p(counts) / max(float(np.log1p(counts.max())), 1e-12)
    else:
        appeal = quality
    return {
        "quality": quality.astype(np.float32),
        "appeal": appeal.astype(np.float32),
        "cost": cost.astype(np.float32),
        "popularity": (counts + 1.0).astype(np.float32),
    }


def item_records(dataset: Dataset, stats: dict[str, np.ndarray]) -> list[dict[str, Any]]:
    """Records for ``Catalog.from_records`` (the one way catalogs are built)."""
    it = dataset.items
    return [
        {
            "id": it.ids[j],
            "title": it.titles[j],
            "description": it.descriptions[j],
            "category": it.categories[j],
            "tags": list(it.tags[j]),
            "quality": float(stats["quality"][j]),
            "appeal": float(stats["appeal"][j]),
            "cost": float(stats["cost"][j]),
            "popularity": float(stats["popularity"][j]),
        }
        for j in range(len(it))
    ]


def initial_interests(
    dataset: Dataset,
    split: Split,
    embeddings: np.ndarray,
    config: CohortConfig | None = None,
    profile_embeddings: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(U, d) initial interests and (U, d) public profiles (see the module docstring).

    The public profile is what a recommender could know: the encoded profile text when the data
    has one, else the plain (unweighted) mean of the init items.
    """
    config = config or CohortConfig()
    inter = dataset.interactions
    emb = np.asarray(embeddings, dtype=np.float32)
    u_n, d = len(split), emb.shape[1]
    starts = inter.offsets[split.users]
    # Rows of every user's init part, flattened: user position i, rank k within its init part.
    owner = np.repeat(np.arange(u_n), split.init_end)
    rank = np.arange(int(split.init_end.sum())) - np.repeat(np.cumsum(split.init_end) - split.init_end,
                                                            split.init_end)
    rows = starts[owner] + rank
    items = inter.items[rows]
    age = (split.init_end[owner] - 1 - rank).astype(np.float64)
    recency = np.power(2.0, -age / config.recency_half_life)
    liked = np.ones(rows.shape[0], dtype=bool)
    if dataset.rating_range is not None:
        mid = sum(dataset.rating_range) / 2.0
        r = inter.ratings[rows]
        liked = ~(np.isfinite(r) & (r < mid))
    any_liked = np.bincount(owner, weights=liked.astype(np.float64), minlength=u_n) > 0
    use = liked | ~any_liked[owner]
    interest = np.zeros((u_n, d), dtype=np.float64)
    np.add.at(interest, owner[use], emb[items[use]] * recency[use, None])
    plain = np.zeros((u_n, d), dtype=np.float64)
    np.add.at(plain, owner, emb[items])
    if profile_embeddings is not None and config.profile_weight > 0:
        interest = _unit(interest) + config.profile_weight * profile_embeddings
    profiles = profile_embeddings if profile_embeddings is not None else _unit(plain)
    return _unit(interest).astype(np.float32), np.asarray(profiles, dtype=np.float32)


def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


@dataclass(frozen=True)
class RealDataSetup:
    """Everything a benchmark on a data set needs.

    ``catalog`` and ``user_pool`` go to the env constructors (``catalog=``, ``user_pool=``; user
    type i of the pool is cohort user i); ``split`` says which rows are held out; ``scenario`` is
    the preset whose units match the data (``dataset.domain``).
    """

    dataset: Dataset
    catalog: Any  # driftrec.envs.sources.catalog.Catalog
    user_pool: Any  # driftrec.envs.sources.users.UserPool
    split: Split
    config: CohortConfig

    @property
    def scenario(self) -> str:
        return self.dataset.domain

    def heldout(self) -> list[tuple[str, np.ndarray]]:
        """(user id, held-out item indices) per cohort user, in cohort order."""
        inter = self.dataset.interactions
        out = []
        for u, b in zip(self.split.users, self.split.heldout_start):
            seq = inter.sequence(int(u))
            out.append((seq.user_id, seq.items[int(b):]))
        return out


def build_setup(
    dataset: Dataset,
    encoder: Any = "minilm",
    *,
    config: CohortConfig | None = None,
    cache_dir: str | Path | None = None,
) -> RealDataSetup:
    """Catalog (through ``Catalog.from_records``), user pool and split for ``dataset``.

    ``encoder``: a ``TextEncoder`` or a ``load_encoder`` spec (its embedding cache makes reruns
    fast).
    """
    from driftrec.envs.sources.catalog import Catalog, resolve_encoder
    from driftrec.envs.sources.users import UserPool

    config = config or CohortConfig()
    split = split_sequences(dataset, config)
    stats = item_statistics(dataset, split, config)
    enc = resolve_encoder(encoder, cache_dir)
    catalog = Catalog.from_records(item_records(dataset, stats), encoder=enc, domain=dataset.domain)
    texts = dataset.interactions.profiles
    profile_emb = None
    pool_texts = None
    if texts:
        pool_texts = tuple(texts[int(u)] for u in split.users)
        if all(pool_texts):
            profile_emb = np.asarray(enc.encode(list(pool_texts)), dtype=np.float32)
        else:
            pool_texts = None
    interests, profiles = initial_interests(dataset, split, catalog.embeddings, config, profile_emb)
    pool = UserPool(interests=interests, profiles=profiles, texts=pool_texts)
    return RealDataSetup(dataset=dataset, catalog=catalog, user_pool=pool, split=split, config=config)

