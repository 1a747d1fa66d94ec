"""The Plackett–Luce slate distribution and the item-wise SB3 policy (agents/itemwise_policy.py)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from driftrec.agents.itemwise_policy import (
    ItemwisePolicy,
    PlackettLuce,
    check_slate_spaces,
    sequential_terms,
)
from gymnasium import spaces


def _policy(n: int = 6, f: int = 5, k: int = 3, **kw) -> ItemwisePolicy:
    obs = spaces.Box(-np.inf, np.inf, shape=(n, f), dtype=np.float32)
    return ItemwisePolicy(obs, spaces.MultiDiscrete([n] * k), lambda _: 1e-3, **kw)


def test_log_prob_of_a_slate_is_the_product_of_its_sequential_choices():
    # Weights exp(logits) = (1, 2, 3). Slate (2, 0): P = 3/6 · 1/(1+2) = 1/6.
    logits = torch.log(torch.tensor([[1.0, 2.0, 3.0]]))
    log_prob, entropy = sequential_terms(logits, torch.tensor([[2, 0]]))
    assert log_prob.item() == pytest.approx(-math.log(6.0), abs=1e-6)
    # H(A1) over (1/6, 2/6, 3/6) plus H(A2 | a1=2) over (1/3, 2/3).
    h1 = -sum(p * math.log(p) for p in (1 / 6, 2 / 6, 3 / 6))
    h2 = -sum(p * math.log(p) for p in (1 / 3, 2 / 3))
    assert entropy.item() == pytest.approx(h1 + h2, abs=1e-6)


def test_slate_probabilities_sum_to_one_over_all_ordered_slates():
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.5]])
    slates = torch.tensor(list(itertools.permutations(range(4), 2)))
    log_prob, _ = sequential_terms(logits.expand(len(slates), -1), slates)
    assert log_prob.exp().sum().item() == pytest.approx(1.0, abs=1e-6)


def test_sampled_slate_frequencies_match_the_plackett_luce_probabilities():
    logits = torch.tensor([[0.3, -1.0, 2.0, 0.5]])
    slates = list(itertools.permutations(range(4), 2))
    probs = sequential_terms(logits.expand(len(slates), -1), torch.tensor(slates))[0].exp()
    draws = 20_000
    dist = PlackettLuce(2).proba_distribution(logits.expand(draws, -1))
    sample = dist.sample(generator=torch.Generator().manual_seed(0)).numpy()
    counts = np.array([np.all(sample == s, axis=1).sum() for s in slates])
    assert counts.sum() == draws  # every draw is an ordered pair of distinct candidates
    expected = probs.numpy() * draws
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    assert chi2 < 31.26  # chi-square, 11 degrees of freedom, p = 0.001


def test_mode_is_the_top_k_scores_in_order():
    dist = PlackettLuce(3).proba_distribution(torch.tensor([[0.1, 2.0, -1.0, 0.7, 1.5]]))
    assert dist.mode().tolist() == [[1, 4, 3]]
    assert dist.get_actions(deterministic=True).tolist() == [[1, 4, 3]]


def test_log_prob_and_entropy_have_finite_gradients():
    logits = torch.tensor([[0.2, -0.4, 1.0, 0.0, 3.0]], requires_grad=True)
    log_prob, entropy = sequential_terms(logits, torch.tensor([[4, 2, 0]]))
    (log_prob + entropy).sum().backward()
    assert torch.isfinite(logits.grad).all()


def test_entropy_without_a_slate_is_evaluated_along_the_mode():
    logits = torch.tensor([[0.5, 0.0, -0.5, 1.0]])
    dist = PlackettLuce(2).proba_distribution(logits)
    expected = sequential_terms(logits, torch.tensor([[3, 0]]))[1]
    assert dist.entropy().item() == pytest.approx(expected.item(), abs=1e-7)


def test_policy_scores_every_candidate_with_the_same_network():
    policy = _policy()
    obs = torch.randn(2, 6, 5, generator=torch.Generator().manual_seed(0))
    swapped = obs[:, [5, 4, 3, 2, 1, 0]]
    with torch.no_grad():
        logits = policy.get_distribution(obs).logits
        logits_swapped = policy.get_distribution(swapped).logits
        values = policy.predict_values(obs)
        values_swapped = policy.predict_values(swapped)
    torch.testing.assert_close(logits_swapped, logits[:, [5, 4, 3, 2, 1, 0]])
    torch.testing.assert_close(values_swapped, values)  # pooling ignores candidate order


def test_policy_parameter_count_does_not_grow_with_the_candidate_count():
    def count(n: int) -> int:
        return sum(p.numel() for p in _policy(n=n).parameters())

    assert count(6) == count(60)


def test_evaluate_actions_returns_the_exact_slate_log_prob():
    policy = _policy()
    obs = torch.randn(3, 6, 5, generator=torch.Generator().manual_seed(1))
    actions = torch.tensor([[0, 1, 2], [5, 3, 1], [2, 4, 0]], dtype=torch.float32)
    with torch.no_grad():
        _, log_prob, entropy = policy.evaluate_actions(obs, actions)
        logits = policy.get_distribution(obs).logits
    expected = sequential_terms(logits, actions.long())
    torch.testing.assert_close(log_prob, expected[0])
    torch.testing.assert_close(entropy, expected[1])


def test_a_slate_larger_than_the_candidate_set_is_rejected():
    with pytest.raises(ValueError, match=r"slate size K=5 exceeds the number of candidates N=3"):
        _policy(n=3, k=5)
    with pytest.raises(ValueError, match=r"logits have shape \(2, 3\); expected \(B, N\) with "
                                         r"N >= K=5"):
        PlackettLuce(5).proba_distribution(torch.zeros(2, 3))


@pytest.mark.parametrize(("obs_space", "action_space", "match"), [
    (spaces.Box(0, 1, shape=(18,)), spaces.MultiDiscrete([6] * 3),
     r"needs a Box observation of per-candidate rows \(N, F\)"),
    (spaces.Box(0, 1, shape=(6, 4)), spaces.Discrete(6),
     r"needs a MultiDiscrete\(\[N=6\] \* K\) slate action"),
    (spaces.Box(0, 1, shape=(6, 4)), spaces.MultiDiscrete([7] * 3),
     r"needs a MultiDiscrete\(\[N=6\] \* K\) slate action"),
])
def test_spaces_that_are_not_candidate_rows_and_a_slate_are_rejected(obs_space, action_space,
                                                                     match):
    with pytest.raises(ValueError, match=match):
        check_slate_spaces(obs_space, action_space)


def test_policy_refuses_a_replacement_features_extractor():
    from stable_baselines3.common.torch_layers import FlattenExtractor

    with pytest.raises(TypeError, match="ItemwisePolicy sets features_extractor_class itself"):
        _policy(features_extractor_class=FlattenExtractor)


def test_policy_rejects_an_empty_network():
    with pytest.raises(ValueError, match=r"net_arch must be a non-empty tuple of positive widths"):
        _policy(net_arch=())


def test_slate_size_must_be_positive():
    with pytest.raises(ValueError, match="slate_size must be >= 1, got 0"):
        PlackettLuce(0)
