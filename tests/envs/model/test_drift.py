"""Drift toward consumed items when satisfied, away when disappointed (other mechanisms off)."""

import pytest
import torch
from driftrec.envs.config import DriftConfig
from driftrec.envs.model.drift import apply_drift, drift_strength, normalise_


def test_drift_step_formula():
    u = torch.tensor([[1.0, 0.0]])
    e = torch.tensor([[0.0, 1.0]])
    s = drift_strength(
        torch.tensor([5.0]), torch.tensor([True]), torch.tensor([0.2]), DriftConfig()
    )
    assert s.item() == pytest.approx(0.2)  # 0.2 * (5 - 3) / 2
    apply_drift(u, e, s)
    normalise_(u)
    assert torch.allclose(u, torch.tensor([[1.0, 0.2]]) / (1.04**0.5))


def _cos_to_category(engine, cat):
    target = engine.centroids[cat]
    return float(engine.state.interest[0] @ target)


def _run(h, catalog, quality_rating_bias: float, nearest: bool):
    # Always consume the single shown item (very low no-click utility), rating set by bias.
    engine = h.make_engine(
        catalog,
        **{**h.ISOLATED, "drift_enabled": True},
        slate_size=1,
        num_candidates=60,
        no_click_utility=-50.0,
        rating_bias=quality_rating_bias,
        rating_quality=0.0,
        rating_match=0.0,
        rating_noise=0.0,
        drift_rate=0.2,
    )
    # The region: the user's least similar category (to move toward) or its most similar one
    # (to move away from), so that the effect has room whatever interest the user drew.
    cos = engine.centroids @ engine.state.interest[0]
    cat = int(cos.argmax() if nearest else cos.argmin())
    before = _cos_to_category(engine, cat)
    for _ in range(15):
        engine.step(h.positions_of(engine, cat).unsqueeze(0))
    return before, _cos_to_category(engine, cat)


def test_repeated_satisfying_consumption_moves_interest_toward_region(h, catalog):
    before, after = _run(h, catalog, quality_rating_bias=5.0, nearest=False)  # ratings 5
    assert after > before + 0.3


def test_disappointing_consumption_moves_interest_away(h, catalog):
    before, after = _run(h, catalog, quality_rating_bias=-5.0, nearest=True)  # ratings 1
    assert after < before - 0.1
