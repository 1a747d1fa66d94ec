"""The engine's stored-representation update against the reference step's direct formulas, with
a walk and a trend far stronger than any preset's (so the closed-form norm, <u, U_r> and
<u, u_0> are exercised hard): u ← normalise(u + a e + σ z U_r + τ c), s ← decay s + rate e,
drift = cos(u, u0)."""

import torch
from driftrec.envs.model import ReferenceParams, ReferenceState, reference_step, step_draws


def test_engine_update_equals_direct_formulas(h, catalog):
    engine = h.make_engine(
        catalog, num_users=6, walk_std=0.05, trend_strength=0.1, trend_period=7, max_steps=500,
        no_click_utility=-1.0, budget_enabled=False, hazard_enabled=False,
    )  # fmt: skip
    params = ReferenceParams.from_engine(engine)
    k, n = engine.config.slate_size, engine.config.num_candidates
    gen = torch.Generator().manual_seed(0)
    consumed = 0
    for t in range(70):  # past RENORM_EVERY = 64: one exact renormalisation on the way
        state = ReferenceState.from_engine(engine)
        slate = torch.stack([torch.randperm(n, generator=gen)[:k] for _ in range(6)])
        ref_state, ref = reference_step(state, slate, params, step_draws(state, params))
        res = engine.step(slate, autoreset=False)
        assert torch.equal(res.info["chosen"], ref.chosen), t
        after = engine.state
        assert torch.allclose(after.interest.double(), ref_state.interest, atol=2e-6), t
        assert torch.allclose(after.satiation.double(), ref_state.satiation, atol=2e-6), t
        assert torch.allclose(res.info["drift"].double(), ref.drift, atol=2e-6), t
        consumed += int((ref.chosen >= 0).sum())
    assert consumed > 100
