"""Boredom lowers the click probability of a repeatedly consumed region and recovers after decay."""

import numpy as np
import pytest
import torch
from driftrec.envs import DriftRecEnv
from driftrec.envs.config import SatiationConfig, UserModelConfig
from driftrec.envs.model.reference import satiation as reference_satiation
from driftrec.envs.model.satiation import SATIATION_FLOOR, boredom, update_satiation


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


IDLE_STEPS = 3000  # 0.8**3000 ~ 1e-291: far below float32's range (and float64's normals: no)


def test_reference_satiation_of_an_idle_user_is_exactly_zero_never_subnormal():
    # float64 would carry 0.8**t to ~1e-291; the floor ends it once 0.8 · 0.8**t < 1.2e-38.
    s = torch.tensor([[0.6, -0.8]], dtype=torch.float64)
    config = UserModelConfig(satiation=SatiationConfig(decay=0.8, rate=1.0))
    for t in range(IDLE_STEPS):
        s = reference_satiation(s, torch.zeros_like(s), torch.tensor([False]), config)
        assert not ((s != 0) & (s.abs() < SATIATION_FLOOR)).any(), t
    assert s.tolist() == [[0.0, 0.0]]
    assert 0.6 * 0.8**389 > SATIATION_FLOOR > 0.8 * 0.8**391  # the floor ended it, at t = 391


@pytest.mark.parametrize("backend", ["fast", "fast-blas", "fast-gram", "torch"])
def test_satiation_of_a_user_who_stops_consuming_ends_exactly_zero_on_every_path(catalog, backend):
    """Through the public env: 20 steps of the best items (utility 2-4.4 against a no-click
    1.5: consumed), then 3,000 of the worst (at most 1.19: with a logit temperature of 0.005
    their choice probability is < e^-60), budget and churn off so the user stays. Before the
    floor, the fast paths kept s at subnormal 2.8e-45 for ever (decay 0.8 rounds k·2^-149 back
    to itself for k ≤ 2) and stepped ~5x slower."""
    env = DriftRecEnv(
        "video", catalog=catalog, backend=backend, num_candidates=30, slate_size=4,
        max_steps=10_000, budget_enabled=False, budget_hazard_enabled=False,
        choice_temperature=0.005, no_click_utility=1.5, heterogeneity_enabled=False,
    )  # fmt: skip
    _, info = env.reset(seed=0)
    consumed = []
    for t in range(20 + IDLE_STEPS):
        order = np.argsort(info["candidate_utilities"])
        slate = order[::-1][:4] if t < 20 else order[:4]
        _, _, terminated, truncated, info = env.step(slate.copy())
        assert not (terminated or truncated)
        consumed.append(info["chosen"] >= 0)
        if t == 19:
            assert env.unwrapped.engine.state.satiation.abs().max() > 0.1
    assert sum(consumed[:20]) >= 10 and sum(consumed[20:]) == 0
    s = env.unwrapped.engine.state.satiation
    assert torch.count_nonzero(s) == 0, s[s != 0][:4].tolist()
    if backend == "fast-gram":  # its catalog scores E s end at zero too
        assert np.count_nonzero(env.unwrapped.engine._cs) == 0


BAD_SATIATION = [
    ({"decay": 1.5}, ValueError, r"SatiationConfig\.decay must be in \[0, 1\], got 1\.5"),
    ({"decay": -0.1}, ValueError, r"SatiationConfig\.decay must be in \[0, 1\], got -0\.1"),
    ({"decay": float("nan")}, ValueError, r"SatiationConfig\.decay must be finite, got nan"),
    ({"decay": "0.8"}, TypeError, r"SatiationConfig\.decay must be a number, got '0\.8' \(str\)"),
    ({"rate": -1.0}, ValueError, r"SatiationConfig\.rate must be >= 0, got -1\.0"),
    ({"boredom_weight": float("inf")}, ValueError,
     r"SatiationConfig\.boredom_weight must be finite, got inf"),
    ({"enabled": "yes"}, TypeError, r"SatiationConfig\.enabled must be a bool, got 'yes' \(str\)"),
]  # fmt: skip


@pytest.mark.parametrize("kwargs, error, message", BAD_SATIATION, ids=range(len(BAD_SATIATION)))
def test_bad_satiation_settings_are_rejected_naming_the_value(kwargs, error, message):
    with pytest.raises(error, match=message):
        SatiationConfig(**kwargs)
