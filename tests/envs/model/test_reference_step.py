"""The batched engine, as the vector env runs it, against the reference step (``envs/model``).

Tolerance: the reference computes in float64, the engine in float32 with its interest norm in
closed form, so continuous quantities agree to ~1e-6 relative per step (asserted: 2e-5 relative
plus 2e-5 absolute, slack for budgets near 120 minutes). A discrete outcome (choice, rating,
purchase, churn) may flip only where a uniform lies within float32 rounding of its threshold:

- step by step, the reference is re-synced from the engine's state before each step, so errors
  cannot accumulate; a user whose discrete outcome differs must have a decision margin below
  ``FLIP_MARGIN`` and is then left out of that step's comparison (the count of such flips is
  bounded too);
- over a whole trajectory the reference runs alone from its own reset, and every discrete
  outcome must match exactly (the seeds here have no near-threshold draws).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from driftrec.envs import DriftRecVectorEnv
from driftrec.envs.model import (
    ReferenceParams,
    ReferenceState,
    reference_reset,
    reference_rollout,
    reference_step,
    step_draws,
    utility,
)
from driftrec.envs.model.choice import click_probabilities
from driftrec.envs.model.reference import RESPONSE_DRAWS, Outcome

RTOL, ATOL = 2e-5, 2e-5
FLIP_MARGIN = 1e-5  # a discrete flip needs a uniform this close to its threshold
DISCRETE = ("terminated", "truncated", "clicks", "chosen", "item", "rating", "purchased", "churned")
CONTINUOUS = (
    "reward", "slate_utilities", "engagement", "completion", "revenue", "best_utility", "regret",
    "drift", "boredom", "budget", "satisfaction",
)  # fmt: skip
STATE = ("interest", "satiation", "budget", "satisfaction", "history_responses")
EXACT_STATE = ("history_ids", "steps", "generation", "keys", "persona", "pool_ids")
SCENARIOS = ("video", "news", "shopping")
CHOICE_MODELS = ("mnl", "cascade", "independent")


def _env(scenario, model, b, catalog, shop_catalog, **overrides) -> DriftRecVectorEnv:
    cat = shop_catalog if scenario == "shopping" else catalog
    return DriftRecVectorEnv(
        b, scenario, catalog=cat, encoder="hashing", choice_model=model, **overrides
    )


def _slates(seed: int, steps: int, b: int, n: int, k: int) -> np.ndarray:
    """(steps, B, K) random distinct slates."""
    gen = np.random.default_rng(seed)
    return np.argsort(gen.random((steps, b, n)), axis=2)[:, :, :k]


def _engine_outcome(reward, terminated, truncated, info) -> dict[str, torch.Tensor]:
    out = {"reward": reward, "terminated": terminated, "truncated": truncated}
    out.update({name: info[name] for name in Outcome.__dataclass_fields__ if name in info})
    return {name: torch.as_tensor(np.asarray(value)) for name, value in out.items()}


def _decision_margin(
    state: ReferenceState,
    slate: torch.Tensor,
    params: ReferenceParams,
    draws: torch.Tensor,
    outcome: Outcome,
) -> torch.Tensor:
    """(B,) the smallest distance of any of the step's uniforms to the threshold it was compared
    with (choice probabilities, purchase probability, churn hazard), of the continuous rating
    to a rounding boundary, and of the budget to 0."""
    m, c = params.model, params.num_choice_draws
    probs = click_probabilities(outcome.slate_utilities, state.no_click_utility, m.choice)
    if m.choice.model == "mnl":
        thresholds = torch.cumsum(probs[:, :-1], dim=1)
        margin = (thresholds - draws[:, :1]).abs().amin(1)
    else:
        margin = (probs[:, :-1] - draws[:, :c]).abs().amin(1)
    consumed = outcome.chosen >= 0
    item = state.pool_ids[slate.gather(1, outcome.chosen.clamp_min(0).unsqueeze(1)).squeeze(1)]
    # The rating before rounding: the same response with the rating noise, unrounded.
    noise = draws[:, c : c + 3]
    r = m.response
    e = params.embeddings[item]
    match = (state.interest * e).sum(1)
    bored = outcome.boredom
    logistic = torch.log(noise[:, 1]) - torch.log1p(-noise[:, 1])
    raw = 1 + 4 * torch.sigmoid(
        r.rating_bias + r.rating_quality * params.quality[item] + r.rating_match * match
        - r.rating_boredom * bored + r.rating_noise * logistic
    )  # fmt: skip
    rating_margin = ((raw - 0.5) - torch.floor(raw - 0.5) - 0.5).abs()  # to the nearest k + 0.5
    margin = torch.minimum(margin, torch.where(consumed, 0.5 - rating_margin, 1.0))
    if r.purchase_enabled:
        p = torch.sigmoid(
            r.purchase_bias + r.purchase_quality * params.quality[item] + r.purchase_match * match
            - state.price_sensitivity * torch.log(params.cost[item] / r.price_reference)
        )  # fmt: skip
        margin = torch.minimum(margin, torch.where(consumed, (draws[:, c + 2] - p).abs(), 1.0))
    b = m.budget
    if b.hazard_enabled:
        hazard = b.hazard_rate * torch.sigmoid(
            b.hazard_slope * (b.hazard_threshold - outcome.satisfaction)
        )
        margin = torch.minimum(margin, (draws[:, c + 3] - hazard).abs())
    if b.enabled:
        margin = torch.minimum(margin, outcome.budget.abs())
    return margin


def _assert_close(name: str, ref: torch.Tensor, eng: torch.Tensor, rows: torch.Tensor, t: int):
    ref, eng = ref[rows].to(torch.float64), eng[rows].to(torch.float64)
    assert torch.allclose(ref, eng, rtol=RTOL, atol=ATOL), (
        f"{name} at step {t}: max |reference - engine| = {float((ref - eng).abs().max()):.3g}"
    )


@pytest.mark.parametrize("b", [1, 4, 64])
@pytest.mark.parametrize("model", CHOICE_MODELS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_engine_step_equals_reference_step_resynced_each_step(
    catalog, shop_catalog, scenario, model, b
):
    steps = 24 if b < 64 else 12
    # Sessions of 8 steps: every slot is replaced at least once (autoreset to a new user).
    env = _env(scenario, model, b, catalog, shop_catalog, max_steps=8)
    params = ReferenceParams.from_engine(env.engine)
    cfg = env.config
    env.reset(seed=11)
    flips = 0
    for t, slate_np in enumerate(_slates(b, steps, b, cfg.num_candidates, cfg.slate_size)):
        state = ReferenceState.from_engine(env.engine)
        slate = torch.from_numpy(slate_np)
        draws = step_draws(state, params)
        ref_state, ref = reference_step(state, slate, params, draws)
        _, reward, te, tr, info = env.step(slate_np)
        eng = _engine_outcome(reward, te, tr, info)
        differ = torch.zeros(b, dtype=torch.bool)
        for name in DISCRETE:
            x, y = getattr(ref, name), eng[name]
            differ |= (x != y).reshape(b, -1).any(1)
        if bool(differ.any()):
            margin = _decision_margin(state, slate, params, draws, ref)
            assert bool((margin[differ] < FLIP_MARGIN).all()), (t, margin[differ])
            flips += int(differ.sum())
        rows = (~differ).nonzero().squeeze(1)
        for name in CONTINUOUS:
            _assert_close(name, getattr(ref, name), eng[name], rows, t)
        after = ReferenceState.from_engine(env.engine)
        for name in STATE:
            _assert_close(name, getattr(ref_state, name), getattr(after, name), rows, t)
        for name in EXACT_STATE:
            x, y = getattr(ref_state, name), getattr(after, name)
            assert torch.equal(
                x if name == "pool_ids" else x[rows], y if name == "pool_ids" else y[rows]
            ), name
        assert ref_state.trend_category == after.trend_category
        cand = torch.as_tensor(info["candidate_utilities"])
        _assert_close("candidate_utilities", utility(ref_state, params), cand, rows, t)
    assert flips <= max(1, b * steps // 1000)


@pytest.mark.parametrize("model", CHOICE_MODELS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_whole_trajectory_of_the_reference_alone_matches_the_vector_env(
    catalog, shop_catalog, scenario, model
):
    b, steps = 4, 30
    env = _env(scenario, model, b, catalog, shop_catalog, max_steps=10)
    params = ReferenceParams.from_engine(env.engine)
    cfg = env.config
    slates = _slates(7, steps, b, cfg.num_candidates, cfg.slate_size)
    outcomes = reference_rollout(params, 5, torch.from_numpy(slates))
    env.reset(seed=5)
    ends = 0
    everything = torch.arange(b)
    for t, (slate, ref) in enumerate(zip(slates, outcomes)):
        _, reward, te, tr, info = env.step(slate)
        eng = _engine_outcome(reward, te, tr, info)
        for name in DISCRETE:
            assert torch.equal(getattr(ref, name), eng[name].to(getattr(ref, name).dtype)), (
                name,
                t,
            )
        for name in CONTINUOUS:
            _assert_close(name, getattr(ref, name), eng[name], everything, t)
        ends += int((te | tr).sum())
    assert ends >= b  # every slot held at least two users


def test_reference_reset_draws_the_engines_users_and_pool(catalog):
    env = DriftRecVectorEnv(5, "news", catalog=catalog, encoder="hashing")
    env.reset(seed=2**70)
    params = ReferenceParams.from_engine(env.engine)
    ref, eng = reference_reset(params, 5, 2**70), ReferenceState.from_engine(env.engine)
    for name in ("persona", "keys", "generation", "pool_ids", "history_ids", "steps"):
        assert torch.equal(getattr(ref, name), getattr(eng, name)), name
    assert ref.trend_category == eng.trend_category >= 0
    for name in ("interest", "initial_interest", "beta", "drift_rate", "boredom_weight",
                 "no_click_utility", "price_sensitivity", "budget"):  # fmt: skip
        assert torch.allclose(getattr(ref, name), getattr(eng, name), rtol=1e-6, atol=1e-6), name


def test_reference_step_does_not_change_its_input_state(catalog):
    env = DriftRecVectorEnv(3, "video", catalog=catalog, encoder="hashing")
    params = ReferenceParams.from_engine(env.engine)
    state = reference_reset(params, 3, 0)
    before = {k: v.clone() if isinstance(v, torch.Tensor) else v for k, v in state.__dict__.items()}
    slate = torch.arange(10).repeat(3, 1)
    reference_step(state, slate, params, step_draws(state, params))
    for name, value in before.items():
        now = getattr(state, name)
        assert torch.equal(now, value) if isinstance(value, torch.Tensor) else now == value, name


def test_draw_columns_follow_the_engines_layout(catalog):
    """mnl takes 1 choice uniform, cascade K; then 4 response/churn uniforms; then r walk ones."""
    env = DriftRecVectorEnv(2, "video", catalog=catalog, encoder="hashing")
    params = ReferenceParams.from_engine(env.engine)
    state = reference_reset(params, 2, 0)
    assert step_draws(state, params).shape == (2, 1 + RESPONSE_DRAWS + 16)
    env = DriftRecVectorEnv(2, "news", catalog=catalog, encoder="hashing")
    params = ReferenceParams.from_engine(env.engine)
    assert step_draws(reference_reset(params, 2, 0), params).shape == (2, 5 + RESPONSE_DRAWS + 16)


def test_decision_margin_is_zero_for_a_uniform_on_a_choice_threshold(catalog):
    """The flip allowance above is only as honest as the margin: a choice uniform placed on the
    first position's mnl threshold has margin 0, ordinary draws one far above FLIP_MARGIN."""
    env = DriftRecVectorEnv(8, "video", catalog=catalog, encoder="hashing", hazard_enabled=False)
    params = ReferenceParams.from_engine(env.engine)
    state = reference_reset(params, 8, 3)
    slate = torch.arange(10).repeat(8, 1)
    draws = step_draws(state, params)
    _, outcome = reference_step(state, slate, params, draws)
    assert bool((_decision_margin(state, slate, params, draws, outcome) > FLIP_MARGIN).all())
    probs = click_probabilities(
        outcome.slate_utilities, state.no_click_utility, params.model.choice
    )
    draws[:, 0] = probs[:, 0]
    _, outcome = reference_step(state, slate, params, draws)
    assert torch.equal(_decision_margin(state, slate, params, draws, outcome), torch.zeros(8))


def _bad_step_inputs(params: ReferenceParams, state: ReferenceState) -> list[tuple]:
    """(label, state, slate, draws, error type, message pattern) for reference_step."""
    b, k, n = 2, params.config.slate_size, params.config.num_candidates
    good = torch.arange(k).repeat(b, 1)
    draws = step_draws(state, params)
    wide = draws.shape[1]
    other = ReferenceState(**{**state.__dict__, "pool_ids": state.pool_ids[:5]})
    return [
        ("float slate", state, good.double(), draws, TypeError, "integer dtype"),
        ("slate None", state, None, draws, TypeError, "slate must be an integer array"),
        ("slate string", state, "0,1", draws, TypeError, "slate must be an integer array"),
        ("slate one user short", state, good[:1], draws, ValueError, r"shape \(1, 10\)"),
        ("slate K+1 wide", state, torch.arange(k + 1).repeat(b, 1), draws, ValueError,
         r"expected \(2, 10\)"),
        ("slate 1-D", state, torch.arange(k), draws, ValueError, r"shape \(10,\)"),
        ("slate position N", state, good.clone().fill_(0) + torch.arange(k) + n - k + 1, draws,
         ValueError, rf"positions \[{n}\] out of range at user 0"),
        ("slate negative", state, good - 1, draws, ValueError, r"positions \[-1\] out of range"),
        ("slate duplicate", state, torch.zeros(b, k, dtype=torch.int64), draws, ValueError,
         r"duplicate positions \[0, 0\] at user 0"),
        ("draws one column short", state, good, draws[:, :-1], ValueError,
         rf"draws have shape \(2, {wide - 1}\); expected \(2, {wide}\)"),
        ("draws one user short", state, good, draws[:1], ValueError, r"draws have shape \(1, "),
        ("draws with 0", state, good, draws.clone().fill_(0.0), ValueError,
         r"strictly inside \(0, 1\)"),
        ("draws with 1", state, good, draws.clone().fill_(1.0), ValueError,
         r"strictly inside \(0, 1\)"),
        ("draws NaN", state, good, draws.clone().fill_(float("nan")), ValueError,
         r"draws \[nan, nan, nan\] are not strictly inside"),
        ("draws int", state, good, draws.long(), TypeError, "draws must be a float tensor"),
        ("draws numpy", state, good, draws.numpy(), TypeError, "draws must be a float tensor"),
        ("state of other params", other, good, draws, ValueError, "a state from other params"),
        ("state a dict", {"interest": 0}, good, draws, TypeError,
         "state must be a ReferenceState, got dict"),
    ]  # fmt: skip


def test_reference_step_rejects_bad_inputs_naming_them(catalog):
    env = DriftRecVectorEnv(2, "video", catalog=catalog, encoder="hashing")
    params = ReferenceParams.from_engine(env.engine)
    state = reference_reset(params, 2, 0)
    for label, st, slate, draws, error, match in _bad_step_inputs(params, state):
        with pytest.raises(error, match=match):
            reference_step(st, slate, params, draws)
        assert label
    with pytest.raises(TypeError, match="params must be a ReferenceParams, got SimpleNamespace"):
        from types import SimpleNamespace

        reference_step(state, torch.arange(10).repeat(2, 1), SimpleNamespace(), draws=None)


@pytest.mark.parametrize(
    ("num_users", "seed", "error", "match"),
    [
        (0, 0, ValueError, "num_users must be an int >= 1, got 0"),
        (-1, 0, ValueError, "num_users must be an int >= 1, got -1"),
        (2.5, 0, ValueError, "num_users must be an int >= 1, got 2.5"),
        (True, 0, ValueError, "num_users must be an int >= 1, got True"),
        (2, -1, ValueError, "seed must be a non-negative int, got -1"),
        (2, "7", ValueError, "seed must be a non-negative int, got '7'"),
        (2, 1.0, ValueError, "seed must be a non-negative int, got 1.0"),
    ],
)
def test_reference_reset_rejects_bad_sizes_and_seeds(catalog, num_users, seed, error, match):
    params = ReferenceParams.from_engine(
        DriftRecVectorEnv(1, catalog=catalog, encoder="hashing").engine
    )
    with pytest.raises(error, match=match):
        reference_reset(params, num_users, seed)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"embeddings": np.zeros(8, np.float32)}, r"embeddings have shape \(8,\)"),
        (
            {"embeddings": np.full((240, 64), np.nan, np.float32)},
            "embeddings have 15360 non-finite values",
        ),
        ({"quality": np.zeros(239)}, r"quality has shape \(239,\)"),
        ({"cost": np.full(240, np.inf)}, "cost has 240 non-finite values"),
        (
            {"category_ids": np.full(240, 6)},
            r"category_ids span \[6, 6\]; expected ids in \[0, 6\)",
        ),
        ({"category_ids": np.full(240, -1)}, r"category_ids span \[-1, -1\]"),
        ({"personas": np.zeros((3, 32))}, r"personas have shape \(3, 32\); expected \(P, 64\)"),
        ({"personas": np.zeros((0, 64))}, r"personas have shape \(0, 64\)"),
    ],
)
def test_reference_params_reject_bad_catalog_arrays(catalog, change, match):
    env = DriftRecVectorEnv(1, catalog=catalog, encoder="hashing")
    arrays = {
        "embeddings": catalog.embeddings, "quality": catalog.quality, "appeal": catalog.appeal,
        "cost": catalog.cost, "category_ids": catalog.category_ids,
        "num_categories": len(catalog.categories), "personas": env.engine.user_pool.interests,
    }  # fmt: skip
    with pytest.raises(ValueError, match=match):
        ReferenceParams.from_arrays(env.config, **{**arrays, **change})


def test_state_of_an_engine_before_reset_is_a_clear_error(catalog):
    from driftrec.envs.builder import build_engine

    engine = build_engine("video", 2, catalog, encoder="hashing")
    with pytest.raises(ValueError, match=r"no state yet; call engine.reset\(seed\) first"):
        ReferenceState.from_engine(engine)
