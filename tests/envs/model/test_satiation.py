"""Boredom lowers the click probability of a repeatedly consumed region and recovers after decay."""

import torch
from driftrec.envs.config import SatiationConfig
from driftrec.envs.model.satiation import boredom, update_satiation


def test_satiation_update_formula():
    s = torch.tensor([[1.0, 0.0]])
    update_satiation(
        s, torch.tensor([[0.0, 1.0]]), torch.tensor([True]), SatiationConfig(decay=0.5, rate=2.0)
    )
    assert torch.allclose(s, torch.tensor([[0.5, 2.0]]))
    assert boredom(torch.tensor([-0.3, 0.4])).tolist() == [0.0, 0.4000000059604645]


def _click_prob(engine, cat):
    """Click probability of the region's centroid against a no-click utility of 0 (the engine
    steps with -50 so that every shown item is consumed)."""
    st, e = engine.state, engine.centroids[cat]
    c = engine.model.choice
    v = (
        st.beta[0] * (st.interest[0] @ e)
        + c.appeal_weight * 0.5
        - st.boredom_weight[0] * torch.clamp_min(st.satiation[0] @ e, 0)
    )
    return float(torch.sigmoid(v / c.temperature))


def test_boredom_lowers_click_probability_of_repeated_region_then_recovers(h, catalog):
    engine = h.make_engine(
        catalog,
        **{**h.ISOLATED, "satiation_enabled": True},
        slate_size=1,
        num_candidates=60,
        no_click_utility=-50.0,
        satiation_decay=0.7,
        boredom_weight=3.0,
    )
    region, other = 1, 4
    fresh = _click_prob(engine, region)
    for _ in range(6):
        engine.step(h.positions_of(engine, region).unsqueeze(0))
    bored = _click_prob(engine, region)
    for _ in range(25):
        engine.step(h.positions_of(engine, other).unsqueeze(0))
    recovered = _click_prob(engine, region)
    assert bored < fresh - 0.2
    assert recovered > bored + 0.2
    assert abs(recovered - fresh) < 0.05
