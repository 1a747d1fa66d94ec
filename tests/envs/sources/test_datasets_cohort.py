"""Cohorts: the init / held-in / held-out split, item statistics without leakage, initial
interests, and the catalog + user pool handed to the envs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from driftrec.envs.sources.datasets import (
    CohortConfig,
    Dataset,
    DatasetItems,
    Interactions,
    build_setup,
    item_statistics,
    load_dataset,
    split_sequences,
)
from driftrec.envs.sources.datasets.cohort import initial_interests


def tiny(ratings: list[list[float]], items: list[list[int]], m: int = 4) -> Dataset:
    """Users with given item/rating sequences (timestamps = positions)."""
    lengths = [len(s) for s in items]
    return Dataset(
        name="movielens", domain="video",
        items=DatasetItems(ids=tuple(str(j) for j in range(m)), titles=tuple(f"m{j}" for j in range(m)),
                           descriptions=("",) * m, tags=((),) * m, categories=("c",) * m,
                           quality=np.full(m, np.nan), cost=np.full(m, np.nan)),
        interactions=Interactions(
            user_ids=tuple(str(u) for u in range(len(items))),
            offsets=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            items=np.concatenate(items).astype(np.int64),
            timestamps=np.concatenate([np.arange(n) for n in lengths]).astype(np.int64),
            ratings=np.concatenate(ratings).astype(np.float32),
        ),
        rating_range=(1.0, 5.0), files=(),
    )


def test_split_sizes_follow_fractions_and_minimums() -> None:
    d = tiny([[3.0] * 10, [3.0] * 40, [3.0] * 8], [[0] * 10, [0] * 40, [0] * 8])
    s = split_sequences(d, CohortConfig(min_init=5, min_heldin=2, min_heldout=2))
    # n=10: init max(5, 2)=5, held-out max(2, 2)=2 → [0,5) [5,8) [8,10); n=40: 8 / 8 → [0,8) [8,32)
    # n=8 is shorter than 5 + 2 + 2 = 9: left out.
    assert s.users.tolist() == [0, 1]
    assert s.init_end.tolist() == [5, 8] and s.heldout_start.tolist() == [8, 32]


def test_too_short_data_is_an_error_not_an_empty_cohort() -> None:
    with pytest.raises(ValueError, match=r"no user of 'movielens' has the 9 interactions"):
        split_sequences(tiny([[3.0] * 3], [[0, 1, 2]]))


def test_quality_is_shrunk_mean_of_training_rows_only() -> None:
    # One user, 10 rows: item 0 rated 5 four times in init/held-in, item 1 rated 1 in the
    # held-out tail only (rows 8, 9) — that rating must not count.
    items = [[0, 0, 0, 0, 2, 2, 2, 2, 1, 1]]
    ratings = [[5, 5, 5, 5, 3, 3, 3, 3, 1, 1]]
    d = tiny(ratings, items)
    st = item_statistics(d, split_sequences(d), CohortConfig(quality_shrinkage=2.0))
    g = (4 * 5 + 4 * 3) / 8  # global mean of training rows = 4
    q0 = ((20 + 2 * g) / (4 + 2) - 1) / 4  # (28/6 − 1)/4
    q1 = (g - 1) / 4  # no training rating → global mean
    np.testing.assert_allclose(st["quality"][:2], [q0, q1], rtol=1e-6)
    assert st["popularity"].tolist() == [5.0, 1.0, 5.0, 1.0]
    assert st["cost"].tolist() == [10.0] * 4  # MovieLens has no runtime: video default


def test_appeal_is_log_popularity_of_training_rows_or_quality_on_request() -> None:
    # training counts (rows 0-7): item 0 ×3, item 2 ×5; item 1 only in the held-out tail
    items = [[0, 0, 0, 2, 2, 2, 2, 2, 1, 1]]
    d = tiny([[4] * 10], items)
    split = split_sequences(d)
    st = item_statistics(d, split)
    np.testing.assert_allclose(st["appeal"], np.log1p([3, 0, 5, 0]) / np.log1p(5), rtol=1e-6)
    by_quality = item_statistics(d, split, CohortConfig(appeal_from="quality"))
    np.testing.assert_array_equal(by_quality["appeal"], by_quality["quality"])
    with pytest.raises(ValueError, match="appeal_from must be 'popularity' or 'quality', got 'x'"):
        CohortConfig(appeal_from="x")


def test_initial_interest_is_recency_weighted_mean_of_liked_init_items() -> None:
    emb = np.eye(4, dtype=np.float32)
    # init = first 5: items 0,1,2,3,3 with item 2 disliked (rating 1) → excluded
    d = tiny([[4, 4, 1, 4, 4, 3, 3, 3, 3, 3]], [[0, 1, 2, 3, 3, 0, 0, 0, 0, 0]])
    s = split_sequences(d)
    u, prof = initial_interests(d, s, emb, CohortConfig(recency_half_life=1.0))
    w = np.array([2.0**-4, 2.0**-3, 0.0, 2.0**-1 + 1.0])  # ages 4, 3, (2), 1 and 0
    np.testing.assert_allclose(u[0], w / np.linalg.norm(w), rtol=1e-6)
    plain = np.array([1.0, 1.0, 1.0, 2.0])
    np.testing.assert_allclose(prof[0], plain / np.linalg.norm(plain), rtol=1e-6)


def test_build_setup_gives_catalog_and_user_pool_for_the_envs(
    tmp_path: Path, hashing_encoder, movielens_files
) -> None:
    root = movielens_files.write_100k(tmp_path / "ml")
    d = load_dataset("movielens", root)
    setup = build_setup(d, hashing_encoder)
    assert len(setup.catalog) == 12 and setup.catalog.domain == "video"
    assert setup.catalog.ids == d.items.ids
    assert setup.catalog.encoder_name == hashing_encoder.name
    assert setup.user_pool.interests.shape == (6, 64) and setup.scenario == "video"
    # profiles come from u.user text, encoded with the catalog's encoder
    np.testing.assert_allclose(setup.user_pool.profiles[0],
                               hashing_encoder.encode([d.interactions.profiles[0]])[0], atol=1e-6)
    heldout = setup.heldout()
    assert [len(h) for _, h in heldout] == [2] * 6
    assert heldout[0][1].tolist() == d.interactions.sequence(0).items[8:].tolist()
    from driftrec.envs.builder import build_engine

    engine = build_engine("video", 4, setup.catalog, setup.user_pool, num_candidates=10,
                          slate_size=3, encoder="hashing")
    engine.reset(0)
    assert engine.state.interest.shape == (4, 64)
