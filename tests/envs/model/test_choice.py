"""Each choice model's empirical frequencies over many counter-based draws match its formula."""

import pytest
import torch
from driftrec.envs import rng
from driftrec.envs.config import ChoiceConfig
from driftrec.envs.model.choice import choose, click_probabilities

DRAWS = 40_000


def _sample(model: str):
    cfg = ChoiceConfig(model=model, temperature=0.8, examination_decay=0.7)
    v = torch.tensor([[1.5, 0.5, 1.0, -0.5]]).expand(DRAWS, 4)
    v0 = torch.full((DRAWS,), 0.7)
    uni = rng.uniform(rng.mix(11, torch.arange(DRAWS)), 4)
    clicks, chosen = choose(v, v0, uni, cfg)
    return cfg, v[:1], v0[:1], clicks, chosen


@pytest.mark.parametrize("model", ["mnl", "cascade"])
def test_single_choice_frequencies_match_formula(model):
    cfg, v, v0, clicks, chosen = _sample(model)
    p = click_probabilities(v, v0, cfg)[0]
    freq = torch.stack(
        [(chosen == k).float().mean() for k in range(4)] + [(chosen < 0).float().mean()]
    )
    # 4 standard errors of a proportion at 40k draws is <= 0.01
    assert torch.allclose(freq, p, atol=0.01), (freq, p)
    assert torch.equal(clicks.sum(1), (chosen >= 0).long())


def test_independent_click_frequencies_match_formula():
    cfg, v, v0, clicks, chosen = _sample("independent")
    p = click_probabilities(v, v0, cfg)[0]
    assert torch.allclose(clicks.float().mean(0), p[:4], atol=0.01)
    assert abs(float((~clicks.any(1)).float().mean()) - float(p[4])) < 0.01
    # the consumed item is the clicked one of highest utility
    has = chosen >= 0
    best = torch.where(clicks, v.expand_as(clicks), -torch.inf).argmax(1)
    assert torch.equal(chosen[has], best[has])


def test_mnl_formula_worked_example():
    # v = (1, 0), v0 = 0, tau = 1: exp(1) / (exp(1) + 1 + 1) = 0.5761
    p = click_probabilities(torch.tensor([[1.0, 0.0]]), torch.tensor([0.0]), ChoiceConfig())
    assert p[0, 0].item() == pytest.approx(0.57612, abs=1e-4)


def test_cascade_examination_lowers_lower_positions():
    # equal utilities: P(first click at k) = a_k prod(1 - a_j), a_k = 0.7**k * sigmoid(0)
    cfg = ChoiceConfig(model="cascade", examination_decay=0.7)
    p = click_probabilities(torch.zeros(1, 3), torch.zeros(1), cfg)[0]
    a = [0.5, 0.35, 0.245]
    expect = [a[0], (1 - a[0]) * a[1], (1 - a[0]) * (1 - a[1]) * a[2]]
    assert p[:3].tolist() == pytest.approx(expect, abs=1e-6)
