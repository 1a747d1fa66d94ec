"""The engine's fast stored-representation update against the direct formulas (second
implementation): u ← normalise(u + a e + σ z U_r + τ c), s ← decay s + rate e, drift = cos(u, u0)."""

import torch
from driftrec.envs import rng
from driftrec.envs.drift import apply_drift, drift_strength, normalise_
from driftrec.envs.exogenous import apply_exogenous
from driftrec.envs.satiation import update_satiation


def test_engine_update_equals_direct_formulas(h, catalog):
    engine = h.make_engine(
        catalog, num_users=6, walk_std=0.05, trend_strength=0.1, trend_period=7, max_steps=500,
        no_click_utility=-1.0, budget_enabled=False, hazard_enabled=False,
    )  # fmt: skip
    m, k = engine.model, engine.config.slate_size
    gen = torch.Generator().manual_seed(0)
    n = engine.config.num_candidates
    for t in range(40):
        st, w = engine.state, engine.world
        u, s = st.interest.clone(), st.satiation.clone()
        keys, steps = st.keys.clone(), st.steps.clone()
        trend = engine.centroids[w.trend_category]
        slate = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(6)])
        res = engine.step(slate, autoreset=False)
        chosen, rating = res.info["chosen"], res.info["rating"]
        consumed = chosen >= 0
        e = engine.embeddings[res.info["item"].clamp_min(0)]
        key = rng.mix(engine.seed_keys.draws, rng.STREAM_STEP, keys, steps)
        uni = rng.uniform(key, 1 + 4 + engine._walk_draws)
        z = rng.normal_from_uniforms(uni[:, 5:], engine.rank)
        a = drift_strength(rating, consumed, st.drift_rate, m.drift)
        apply_drift(u, e, a)
        apply_exogenous(u, z, engine.basis, trend, m.exogenous)
        normalise_(u)
        update_satiation(s, e, consumed, m.satiation)
        assert torch.allclose(engine.state.interest, u, atol=2e-5), t
        assert torch.allclose(engine.state.satiation, s, atol=2e-5), t
        cos = (u * engine.state.initial_interest).sum(1)
        assert torch.allclose(res.info["drift"], cos, atol=2e-5), t
