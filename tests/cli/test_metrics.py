"""Metric formulas on hand-worked examples (arithmetic in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from driftrec.cli import metrics as M


def test_mean_ci_uses_student_t_on_sample_std() -> None:
    # x = 1,2,3: mean 2, s = 1, n = 3 → 4.302653 · 1/√3 = 2.484138
    mean, half = M.mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0
    assert half == pytest.approx(4.302653 / math.sqrt(3), rel=1e-9)


def test_mean_ci_single_value_has_zero_width_and_empty_is_nan() -> None:
    assert M.mean_ci([5.0]) == (5.0, 0.0)
    mean, half = M.mean_ci([])
    assert math.isnan(mean) and math.isnan(half)


def test_t_critical_table_and_large_df_approach_normal() -> None:
    assert M.t_critical(1) == pytest.approx(12.706205)
    assert M.t_critical(30) == pytest.approx(2.042272)
    assert M.t_critical(60) == pytest.approx(2.000298, abs=2e-3)  # true t_{.975,60}
    assert M.t_critical(10**9) == pytest.approx(1.959964, abs=1e-6)
    with pytest.raises(ValueError, match="degrees of freedom"):
        M.t_critical(0)


def test_slate_click_through_counts_slates_with_any_click() -> None:
    clicks = np.array([[True, False, True], [False, False, False]])
    np.testing.assert_array_equal(M.slate_click_through(clicks), [1.0, 0.0])


def test_intra_list_diversity_of_orthogonal_and_identical_slates() -> None:
    eye = np.eye(3)  # three orthogonal items: every cosine 0 → diversity 1
    same = np.tile([[1.0, 0.0, 0.0]], (3, 1))  # identical items: cosines 1 → diversity 0
    np.testing.assert_allclose(M.intra_list_diversity(np.stack([eye, same])), [1.0, 0.0],
                               atol=1e-12)


def test_intra_list_diversity_hand_example() -> None:
    # e1=(1,0), e2=(0,1), e3=(1,1)/√2: cosines 0, 1/√2, 1/√2 → mean √2/3 → 1 − 0.4714045
    s = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])  # unnormalised third row on purpose
    assert M.intra_list_diversity(s) == pytest.approx(1 - math.sqrt(2) / 3)


def test_catalog_coverage_ignores_padding_and_repeats() -> None:
    # items {0, 2, 3} out of 10 (−1 is padding) → 0.3
    assert M.catalog_coverage(np.array([[0, 2], [2, 3], [-1, 0]]), 10) == pytest.approx(0.3)


def test_novelty_is_minus_log_popularity() -> None:
    np.testing.assert_allclose(M.novelty(np.array([1.0, math.exp(-2)])), [0.0, 2.0])


def test_interest_drift_zero_orthogonal_and_reversed() -> None:
    u0 = np.array([[1.0, 0.0], [1.0, 0.0], [1.0, 0.0]])
    u1 = np.array([[2.0, 0.0], [0.0, 1.0], [-1.0, 0.0]])
    np.testing.assert_allclose(M.interest_drift(u1, u0), [0.0, 1.0, 2.0], atol=1e-12)


def test_category_centroids_are_unit_means() -> None:
    e = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])
    c = M.category_centroids(e, np.array([0, 0, 1]), 3)
    np.testing.assert_allclose(c, [[1 / math.sqrt(2), 1 / math.sqrt(2)], [0, 1], [0, 0]])


def test_interest_entropy_uniform_is_one_and_peaked_is_near_zero() -> None:
    centroids = np.eye(2)
    # u = (1,1)/√2 is equally close to both centroids → p = (½, ½) → H/log 2 = 1
    assert M.interest_entropy(np.array([[1.0, 1.0]]), centroids)[0] == pytest.approx(1.0)
    # u = e1: logits (1/0.05, 0) = (20, 0) → p2 = 1/(1+e^20) ≈ 2.06e-9 → H ≈ 4.4e-8/log 2
    p2 = 1 / (1 + math.exp(20))
    h = -(p2 * math.log(p2) + (1 - p2) * math.log(1 - p2)) / math.log(2)
    assert M.interest_entropy(np.array([[1.0, 0.0]]), centroids)[0] == pytest.approx(h)


def test_homogenisation_hand_example() -> None:
    # u1=(1,0), u2=(0,1), u3=(1,0): cosines 0, 1, 0 → mean 1/3
    u = np.array([[1.0, 0.0], [0.0, 1.0], [3.0, 0.0]])
    assert M.homogenisation(u) == pytest.approx(1 / 3)
    assert math.isnan(M.homogenisation(u[:1]))


def test_regret_is_best_minus_best_in_slate() -> None:
    np.testing.assert_allclose(M.regret(np.array([2.0, 1.0]),
                                        np.array([[0.5, 1.5], [1.0, 0.0]])), [0.5, 0.0])


def _step(acc: M.EpisodeAccumulator, reward, done, churned, clicks=None, interest=None) -> None:
    b = len(reward)
    acc.record(
        reward=np.array(reward, dtype=float),
        clicks=np.zeros((b, 2), bool) if clicks is None else np.array(clicks),
        engagement=np.array(reward, dtype=float),
        regret=np.zeros(b),
        slate_item_ids=np.array([[0, 1]] * b),
        slate_embeddings=np.tile(np.eye(2), (b, 1, 1)),
        slate_popularity=np.ones((b, 2)),
        interest=acc.initial_interest if interest is None else np.array(interest),
        done=np.array(done), churned=np.array(churned))


def test_accumulator_tracks_cohort_until_departure() -> None:
    u0 = np.array([[1.0, 0.0], [0.0, 1.0]])
    acc = M.EpisodeAccumulator(u0, np.eye(2), num_items=4)
    # step 1: both active, rewards (1, 2); user 0 churns.
    _step(acc, [1, 2], done=[True, False], churned=[True, False],
          clicks=[[True, False], [False, False]])
    # step 2: slot 0 now holds a replacement (not measured): its reward 10 must not count.
    _step(acc, [10, 3], done=[False, True], churned=[False, False],
          interest=[[1.0, 0.0], [1.0, 0.0]])
    out = acc.finish()
    np.testing.assert_array_equal(acc.returns, [1.0, 5.0])
    assert out["return_mean"] == 3.0
    assert out["session_length"] == 1.5  # lengths 1 and 2
    assert out["churn_rate"] == 0.5  # user 1 left by the session limit, not churn
    assert out["ctr"] == pytest.approx(1 / 3)  # 3 measured slates, one clicked
    assert out["coverage"] == 0.5  # items {0, 1} of 4
    # user 1 ends at (1,0) from (0,1): drift 1; user 0 never moved: drift 0 → mean 0.5
    assert out["interest_drift"] == pytest.approx(0.5)
    # both end at (1,0): homogenisation 1 at the end, 0 at the start
    assert out["homogenisation_delta"] == pytest.approx(1.0)
    assert acc.curves["reward"] == [1.5, 1.5]  # step 2: (0 for departed + 3) / 2
    assert acc.curves["retention"] == [0.5, 0.0]
    assert set(out) == set(M.METRIC_NAMES)


def test_pad_to_fills_curves_after_everyone_left() -> None:
    acc = M.EpisodeAccumulator(np.eye(2), np.eye(2), num_items=2)
    _step(acc, [1, 1], done=[True, True], churned=[True, False])
    acc.pad_to(3)
    assert acc.curves["reward"] == [1.0, 0.0, 0.0]
    assert acc.curves["retention"] == [0.0, 0.0, 0.0]
    assert acc.curves["ctr"][0] == 0.0 and all(math.isnan(x) for x in acc.curves["ctr"][1:])
    assert acc.finish()["churn_rate"] == 0.5


def test_aggregate_returns_pools_users_and_seeds() -> None:
    mean, half = M.aggregate_returns([np.array([1.0, 2.0]), np.array([3.0])])
    assert (mean, half) == M.mean_ci([1.0, 2.0, 3.0])
