"""Tie-aware ranking metrics: worked examples, and the expectation against sampled tie-breaks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from driftrec.envs.ranking import concat_ranks, ranking_metrics, target_ranks


def test_ties_share_the_ranks_they_span_worked_example() -> None:
    # Target (column 2) scores 0.5; one item scores higher (g = 1), two others tie (t = 2), so its
    # 0-based rank is uniform on {1, 2, 3}.
    scores = torch.tensor([[0.9, 0.5, 0.5, 0.5, 0.1]])
    ranks = target_ranks(scores, torch.tensor([2]))
    assert ranks.higher.tolist() == [1] and ranks.ties.tolist() == [2]
    assert ranks.expected_rank().tolist() == [2.0]
    # hit@1: rank 0 is impossible. hit@2: only rank 1, probability 1/3. hit@4: always.
    assert ranks.hit_at(1).item() == 0.0
    assert ranks.hit_at(2).item() == pytest.approx(1 / 3)
    assert ranks.hit_at(4).item() == 1.0
    # NDCG@2 = (1/log2(3)) / 3; NDCG@10 = (1/log2(3) + 1/log2(4) + 1/log2(5)) / 3.
    assert ranks.ndcg_at(2).item() == pytest.approx(1 / math.log2(3) / 3)
    assert ranks.ndcg_at(10).item() == pytest.approx((1 / math.log2(3) + 0.5 + 1 / math.log2(5)) / 3)
    # MRR = (1/2 + 1/3 + 1/4) / 3 = 13/36.
    assert ranks.reciprocal_rank().item() == pytest.approx(13 / 36)


def test_a_constant_score_is_at_chance_not_always_a_hit() -> None:
    # The failure the tie rule exists for: "fewer than k strictly higher" would call every event
    # a hit; with 1,000 equal scores hit@10 is 10/1000 exactly.
    scores = torch.zeros(3, 1000)
    metrics = ranking_metrics(target_ranks(scores, torch.tensor([0, 500, 999])), k=10)
    assert metrics["hit@10"] == pytest.approx(0.01)
    assert metrics["mrr"] == pytest.approx(sum(1 / r for r in range(1, 1001)) / 1000)


def test_distinct_scores_give_the_plain_rank() -> None:
    scores = torch.tensor([[3.0, 2.0, 1.0], [1.0, 2.0, 3.0]])
    ranks = target_ranks(scores, torch.tensor([1, 1]))
    assert ranks.ties.tolist() == [0, 0]
    m = ranking_metrics(ranks, k=1)
    assert m == {"hit@1": 0.0, "ndcg@1": 0.0, "mrr": pytest.approx(0.5)}
    m = ranking_metrics(ranks, k=2)
    assert m["hit@2"] == 1.0 and m["ndcg@2"] == pytest.approx(1 / math.log2(3))


def test_expectations_match_random_tie_breaks_sampled() -> None:
    gen = np.random.default_rng(0)
    scores = torch.from_numpy(gen.integers(0, 4, size=(40, 30)).astype(np.float64))
    target = torch.from_numpy(gen.integers(0, 30, size=40))
    ranks = target_ranks(scores, target)
    draws = 4000
    hit = ndcg = rr = np.zeros(40)
    for _ in range(draws):
        jitter = gen.random(scores.shape) * 1e-3  # breaks ties only: scores are integers
        s = scores.numpy() + jitter
        rank = (s > s[np.arange(40), target.numpy()][:, None]).sum(axis=1)
        hit = hit + (rank < 5)
        ndcg = ndcg + np.where(rank < 5, 1 / np.log2(rank + 2), 0.0)
        rr = rr + 1 / (rank + 1)
    np.testing.assert_allclose(ranks.hit_at(5).numpy(), hit / draws, atol=0.04)
    np.testing.assert_allclose(ranks.ndcg_at(5).numpy(), ndcg / draws, atol=0.03)
    np.testing.assert_allclose(ranks.reciprocal_rank().numpy(), rr / draws, atol=0.02)


def test_unavailable_items_tie_among_themselves_only() -> None:
    scores = torch.tensor([[0.0, -math.inf, -math.inf, 1.0]])
    ranks = target_ranks(scores, torch.tensor([1]))
    assert ranks.higher.tolist() == [2] and ranks.ties.tolist() == [1]


def test_no_events_give_nan_and_chunks_concatenate() -> None:
    empty = concat_ranks([])
    assert all(math.isnan(v) for v in ranking_metrics(empty, 10).values())
    a = target_ranks(torch.tensor([[1.0, 2.0]]), torch.tensor([0]))
    b = target_ranks(torch.tensor([[2.0, 2.0]]), torch.tensor([1]))
    both = concat_ranks([a, b])
    assert both.higher.tolist() == [1, 0] and both.ties.tolist() == [0, 1]


@pytest.mark.parametrize(
    ("scores", "target", "match"),
    [
        (torch.zeros(2, 3), torch.tensor([0]), r"scores must be \(E, C\) and target \(E,\)"),
        (torch.zeros(3), torch.tensor([0, 0, 0]), r"scores must be \(E, C\)"),
        (torch.tensor([[0.0, float("nan")]]), torch.tensor([0]), r"NaN at events \[0\]"),
        (torch.zeros(1, 3), torch.tensor([3]), r"target columns must lie in \[0, 3\), got \[3, 3\]"),
        (torch.zeros(1, 3), torch.tensor([-1]), r"target columns must lie in \[0, 3\)"),
    ],
)
def test_bad_inputs_name_what_was_expected(scores: torch.Tensor, target: torch.Tensor,
                                           match: str) -> None:
    with pytest.raises(ValueError, match=match):
        target_ranks(scores, target)


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="k must be a positive int, got 0"):
        ranking_metrics(concat_ranks([]), 0)
