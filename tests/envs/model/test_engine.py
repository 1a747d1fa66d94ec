"""Reproducibility of the engine: determinism, batch-size invariance, single env == engine."""

import driftrec.envs
import gymnasium as gym
import numpy as np
import pytest
import torch
from driftrec.envs import DriftRecEnv


def _actions(seed: int, steps: int, b: int, n: int, k: int) -> np.ndarray:
    """(steps, b, k) distinct positions; user i's actions depend only on (seed, i)."""
    out = np.zeros((steps, b, k), dtype=np.int64)
    for i in range(b):
        rng = np.random.default_rng([seed, i])
        for t in range(steps):
            out[t, i] = rng.permutation(n)[:k]
    return out


def _rollout(env, actions):
    records = []
    obs, info = env.reset(seed=123)
    for a in actions:
        obs, r, te, tr, info = env.step(a)
        records.append((obs, r, te, tr, info))
    return records


@pytest.mark.parametrize("scenario", ["video", "news", "shopping"])
def test_seeded_rollouts_of_50_steps_are_identical(catalog, scenario):
    kw = {
        "scenario": scenario,
        "catalog": catalog,
        "encoder": "hashing",
        "num_candidates": 30,
        "slate_size": 4,
        "oracle_info": True,
    }
    acts = _actions(0, 50, 5, 30, 4)
    a = _rollout(driftrec.envs.DriftRecVectorEnv(5, **kw), acts)
    b = _rollout(driftrec.envs.DriftRecVectorEnv(5, **kw), acts)
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(a, b):
        assert np.array_equal(r1, r2) and np.array_equal(te1, te2) and np.array_equal(tr1, tr2)
        for key in o1:
            assert np.array_equal(o1[key], o2[key])
        for key in ("slate_utilities", "candidate_values", "budget", "drift"):
            assert np.array_equal(i1[key], i2[key])


def test_user_trajectory_is_identical_under_4_and_64_users(catalog):
    kw = {
        "catalog": catalog,
        "encoder": "hashing",
        "num_candidates": 30,
        "slate_size": 4,
        "max_steps": 15,
    }
    steps = 60  # several autoresets per slot (max_steps 15, plus churn)
    small = _rollout(driftrec.envs.DriftRecVectorEnv(4, **kw), _actions(1, steps, 4, 30, 4))
    large = _rollout(driftrec.envs.DriftRecVectorEnv(64, **kw), _actions(1, steps, 64, 30, 4))
    resets = 0
    for (o1, r1, te1, tr1, i1), (o2, r2, te2, tr2, i2) in zip(small, large):
        assert np.array_equal(r1, r2[:4])
        assert np.array_equal(te1 | tr1, (te2 | tr2)[:4])
        resets += int((te1 | tr1).sum())
        for key in o1:
            assert np.array_equal(o1[key], o2[key][:4]), key
        for key in ("slate_utilities", "chosen", "budget", "drift", "candidate_utilities"):
            assert np.allclose(i1[key], i2[key][:4], atol=1e-5), key
    assert resets >= 8


# news: its trend (period 10) changes when its 10-step sessions end.
@pytest.mark.parametrize("backend", ["fast", "torch"])  # per path (their defaults differ)
@pytest.mark.parametrize(("scenario", "max_steps"), [("video", 12), ("news", 10), ("shopping", 7)])
def test_single_env_equals_vector_env_with_one_user(catalog, scenario, max_steps, backend):
    kw = {
        "backend": backend,
        "scenario": scenario,
        "catalog": catalog,
        "encoder": "hashing",
        "num_candidates": 30,
        "slate_size": 4,
        "max_steps": max_steps,
    }
    acts = _actions(2, 40, 1, 30, 4)
    vec = _rollout(driftrec.envs.DriftRecVectorEnv(1, **kw), acts)
    env = DriftRecEnv(**kw)
    obs, _ = env.reset(seed=123)
    episodes = 0
    for a, (vo, vr, vte, vtr, vinfo) in zip(acts, vec):
        obs, r, te, tr, info = env.step(a[0])
        assert r == vr[0] and te == vte[0] and tr == vtr[0]
        assert np.array_equal(info["slate_utilities"], vinfo["slate_utilities"][0])  # to the bit
        if te or tr:
            episodes += 1
            for key, value in vinfo["final_obs"][0].items():
                assert np.array_equal(obs[key], value), key
            obs, _ = env.reset()
        for key in obs:
            assert np.array_equal(obs[key], vo[key][0]), key
    assert episodes >= 2


def test_gym_make_matches_direct_construction(catalog):
    env = gym.make("driftrec/Video-v0", catalog=catalog, encoder="hashing", num_candidates=30)
    direct = DriftRecEnv("video", catalog=catalog, encoder="hashing", num_candidates=30)
    o1, _ = env.reset(seed=5)
    o2, _ = direct.reset(seed=5)
    assert np.array_equal(o1["profile_embedding"], o2["profile_embedding"])
    a = np.arange(10)
    assert env.step(a)[1] == direct.step(a)[1]


def test_observation_arrays_are_not_mutated_by_later_steps(catalog):
    env = driftrec.envs.DriftRecVectorEnv(3, catalog=catalog, encoder="hashing")
    obs, _ = env.reset(seed=0)
    snapshot = {k: np.array(v, copy=True) for k, v in obs.items()}
    for _ in range(5):
        env.step(env.action_space.sample())
    for key in obs:
        assert np.array_equal(obs[key], snapshot[key]), key


def test_engine_runs_in_inference_mode_and_state_edits_inside_it_take_effect(h, catalog):
    """The engine's state tensors are inference tensors (``Engine`` docstring): an in-place edit
    from outside fails with torch's error unless made inside ``torch.inference_mode()``, where it
    reaches the next step exactly as an assigned new tensor would."""
    edited, assigned, untouched = (
        h.make_engine(catalog, num_users=2, **{**h.ISOLATED, "budget_enabled": True})
        for _ in range(3)
    )
    assert edited.state.budget.is_inference()
    with pytest.raises(RuntimeError, match="[Ii]nference tensor"):
        edited.state.budget.fill_(0.5)
    with torch.inference_mode():
        edited.state.budget.fill_(0.5)
    assigned.state.budget = torch.full((2,), 0.5)
    slate = torch.arange(edited.config.slate_size).repeat(2, 1)
    a, b, c = edited.step(slate), assigned.step(slate), untouched.step(slate)
    assert torch.equal(a.info["budget"], b.info["budget"])
    assert not torch.equal(a.info["budget"], c.info["budget"])
    assert a.info["budget"].is_inference()


def test_interest_stays_unit_norm(catalog):
    env = driftrec.envs.DriftRecVectorEnv(8, catalog=catalog, encoder="hashing")
    env.reset(seed=0)
    for _ in range(20):
        env.step(env.action_space.sample())
    norms = torch.linalg.vector_norm(env.engine.state.interest, dim=1)
    assert torch.allclose(norms, torch.ones(8), atol=1e-5)


@pytest.mark.parametrize("scenario", ["video", "news", "shopping"])
def test_similarities_of_the_stored_representation_equal_the_exact_product(catalog, scenario):
    """The per-pool product of the stored rows plus the walk's coefficients equals the true
    <u, e_j>, <s, e_j> through drift, satiation, walk, trend, renormalisation, satiation folding
    and autoresets."""
    env = driftrec.envs.DriftRecVectorEnv(
        16, scenario, catalog=catalog, encoder="hashing", max_steps=15
    )
    env.reset(seed=3)
    eng = env.engine
    pools, walk_carried = set(), 0
    for t in range(80):
        env.step(env.action_space.sample())
        pools.add(tuple(eng.world.pool_ids.tolist()))
        # In true units: <u, .> with u unit, <s, .> with s = scale · s_stored.
        st, b = eng.state, eng.num_users
        exact = torch.cat([st.interest, st.satiation]) @ eng.world.columns.T
        unit = torch.cat([1.0 / st.interest_norm, st.satiation_scale]).unsqueeze(1)
        kept = eng.world.sims[: 2 * b] * unit
        assert torch.allclose(kept, exact, atol=2e-5), (scenario, t, (kept - exact).abs().max())
        # The closed-form <u, U_r> that the walk's norm update reads.
        basis_dots = st.interest_basis / st.interest_norm.unsqueeze(1)
        assert torch.allclose(basis_dots, st.interest @ eng.basis.T, atol=2e-5), (scenario, t)
        walk_carried += bool(st.walk.abs().sum() > 0)  # as coefficients, not in the rows
    assert len(pools) == 80 and walk_carried >= 60


def test_rows_and_walk_are_views_of_the_product_operand_also_in_a_clone(catalog):
    """The walk's coefficients are the last r columns of the product's left operand, so the one
    product includes them; a cloned state (checkpoint) keeps that aliasing."""
    env = driftrec.envs.DriftRecVectorEnv(3, catalog=catalog, encoder="hashing")
    env.reset(seed=1)
    for _ in range(5):
        env.step(env.action_space.sample())
    eng = env.engine
    storage, product_columns = eng.similarity_operands()
    d, r = eng.dim, eng.rank
    assert r > 0 and storage.shape == (8, d + r) and product_columns.shape[1] == d + r
    st = eng.state.clone()
    assert st.storage.data_ptr() != storage.data_ptr()
    for state in (eng.state, st):
        assert state.rows.data_ptr() == state.storage.data_ptr()
        assert state.walk.data_ptr() == state.storage[:, d:].data_ptr()
    assert torch.equal(st.interest, eng.state.interest)
    st.walk.add_(1.0)
    assert torch.equal(st.storage[:8, d:], eng.state.walk + 1.0)


def test_every_step_draws_a_new_pool_and_a_lasting_pool_is_a_clear_error(catalog):
    env = driftrec.envs.DriftRecVectorEnv(2, catalog=catalog, encoder="hashing")
    obs, _ = env.reset(seed=0)
    ids = [obs["candidate_ids"][0].copy()]
    for _ in range(5):
        ids.append(env.step(env.action_space.sample())[0]["candidate_ids"][0].copy())
    assert not any(np.array_equal(ids[t], ids[t - 1]) for t in range(1, 6))
    with pytest.raises(ValueError, match=r"pool_lifetime=5 is no longer supported; expected 1"):
        driftrec.envs.DriftRecVectorEnv(2, catalog=catalog, encoder="hashing", pool_lifetime=5)


@pytest.mark.parametrize("tables", [True, False])
def test_drift_info_equals_cosine_to_the_initial_interest(catalog, monkeypatch, tables):
    """<e, u_0> of a consumed item from the catalog tables (or, for a catalog × user pool too
    large for them, the dot product with the stored u_0) keeps <u, u_0> exact: info["drift"] is
    cos(u_t, u_0) of the hidden state, through drift, walk, trend and autoresets."""
    if not tables:
        monkeypatch.setattr(driftrec.envs.model.engine, "MAX_PERSONA_TABLE", 0)
    env = driftrec.envs.DriftRecVectorEnv(
        16, "video", catalog=catalog, encoder="hashing", max_steps=12
    )
    env.reset(seed=5)
    eng = env.engine
    assert (eng._persona_items is not None) == tables
    drifted = 0.0
    for _ in range(40):
        _, _, terminated, truncated, info = env.step(env.action_space.sample())
        st = eng.state
        exact = torch.linalg.vecdot(st.interest, st.initial_interest)
        reported = torch.from_numpy(np.asarray(info["drift"]))
        live = torch.from_numpy(~(terminated | truncated))  # the others were replaced
        assert torch.allclose(reported[live], exact[live], atol=1e-5)
        drifted = max(drifted, float((1 - exact).max()))
    assert drifted > 0.01  # interests did move
