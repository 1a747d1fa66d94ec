"""Exogenous drift: off → interest constant without consumption; on → a unit-norm random walk."""

import torch
from driftrec.envs.model.exogenous import principal_basis, trending_category


def _interest_after(h, catalog, steps: int, **kw):
    engine = h.make_engine(catalog, **{**h.ISOLATED, **kw}, no_click_utility=50.0, max_steps=500)
    u0 = engine.state.interest.clone()
    for _ in range(steps):
        engine.step(torch.arange(engine.config.slate_size).unsqueeze(0))
    return u0, engine.state.interest.clone()


def test_exogenous_off_keeps_interest_constant_without_consumption(h, catalog):
    u0, u1 = _interest_after(h, catalog, 30)
    assert torch.equal(u0, u1)


def test_exogenous_random_walk_moves_interest_and_keeps_unit_norm(h, catalog):
    u0, u1 = _interest_after(h, catalog, 30, exogenous_enabled=True, walk_std=0.05)
    cos = float((u0 * u1).sum())
    assert 0.3 < cos < 0.999
    assert abs(float(u1.norm()) - 1.0) < 1e-5


def test_trending_direction_pulls_interest_toward_the_trending_category(h, catalog):
    engine = h.make_engine(
        catalog,
        **{**h.ISOLATED, "exogenous_enabled": True},
        walk_std=0.0,
        trend_strength=0.2,
        trend_period=1000,
        no_click_utility=50.0,
    )
    cat = trending_category(engine.seed_keys.world, 0, engine.num_categories, 1000)
    before = float(engine.state.interest[0] @ engine.centroids[cat])
    for _ in range(20):
        engine.step(torch.arange(engine.config.slate_size).unsqueeze(0))
    assert float(engine.state.interest[0] @ engine.centroids[cat]) > max(before, 0.0) + 0.3


def test_principal_basis_is_orthonormal():
    x = torch.randn(200, 16, generator=torch.Generator().manual_seed(0))
    b = principal_basis(x, 5)
    assert torch.allclose(b @ b.T, torch.eye(5), atol=1e-5)
