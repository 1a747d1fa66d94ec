"""The user model of driftrec, as plain functions over an explicit state: the definition of the
simulator's users, step by step. Every faster path (the batched engine in ``envs/model/engine.py``,
small-batch paths) must agree with ``reference_step`` (``tests/envs/model/test_reference_step.py``).

    state, outcome = reference_step(state, slate, params, draws)

``state`` (``ReferenceState``) holds the true quantities of B users and of the world they share;
``slate`` (B, K) int64 distinct positions into today's candidate pool; ``params``
(``ReferenceParams``) the catalog and the scenario; ``draws`` (B, n) the step's uniforms from
``step_draws`` — the counter-based streams of ``rng.py``, in the engine's column layout, so the
reference and the engine consume identical randomness.

One step, for every user b (u unit interest, s satiation, e_j item embeddings, K slate size):

1. ``utility``:   v_j = γ a_j + β_b <u, e_j> − λ_b max(0, <s, e_j>)     for every candidate j
2. ``choice``:    slate utilities v_k + p_k (position effect), the choice model picks a position
   or nothing (``choice.py``: mnl, cascade, independent);
3. ``response``:  completion, engagement, rating, purchase of the consumed item (``response.py``);
   ``reward`` from them as the scenario says;
4. ``drift`` + ``exogenous``:  u ← normalise(u + a_b e + σ z U_r + τ c_t)   (``drift.py``,
   ``exogenous.py``; a_b = η_b (rating − neutral) / 2 for a consumed item, else 0);
5. ``satiation``: s ← decay · s + rate · e, |s_i| < 1.2e-38 → 0        (``satiation.py``);
6. ``budget_and_churn``: budget, running satisfaction, leave or stay   (``budget.py``);
7. history: the consumed item and its (completion, rating / 5) enter first;
8. the world advances: the next candidate pool (``candidate_pool``) and trending topic
   (``trending_category``); users who left are replaced by new ones (``new_users``).

Precision: float64 throughout (the draws are the same numbers in float32 and float64, see
``rng.uniform_from_bits``), so the reference's own rounding (~1e-16) is negligible and a
difference from a float32 path is that path's error: about 1e-6 relative per step for the engine,
whose interest norm is carried in closed form between exact renormalisations. A discrete outcome
(a choice, a rounded rating, a purchase, a churn) can therefore flip only where a uniform falls
within ~1e-6 of its threshold.

It is written to be read, not to be fast (hundreds of small tensor operations per step); the same
functions serve one user or many, since every array has a leading B.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from typing import Any

import torch

from .. import rng
from ..config import ScenarioConfig, UserModelConfig
from ..validation import validate_slate
from .budget import churn, update_budget, update_satisfaction
from .choice import choose
from .drift import apply_drift, drift_strength, normalise_
from .exogenous import apply_exogenous
from .exogenous import trending_category as _trending_category
from .params import DTYPE, ReferenceParams
from .response import Response, respond
from .satiation import boredom, update_satiation

# Uniforms per user-step after the choice's (1 for mnl, else K): completion noise, rating noise,
# purchase, churn hazard; then r for the random walk (``step_draws``).
RESPONSE_DRAWS = 4
# The eight draws of a new user besides the k interest-noise normals: six heterogeneity normals
# (beta, drift rate, boredom weight, no-click utility, price sensitivity, budget), one unused
# normal column and the persona index.
ARRIVAL_DRAWS = 8


@dataclass
class ReferenceState:
    """The true state of B users and of their shared world (leading B on every tensor)."""

    interest: torch.Tensor  # (B, d) unit interest u
    satiation: torch.Tensor  # (B, d) satiation s
    initial_interest: torch.Tensor  # (B, d) u at arrival (drift = cos(u, u_0))
    persona: torch.Tensor  # (B,) int64 user type
    beta: torch.Tensor  # (B,) interest weight
    drift_rate: torch.Tensor  # (B,) eta
    boredom_weight: torch.Tensor  # (B,) lambda
    no_click_utility: torch.Tensor  # (B,) v0
    price_sensitivity: torch.Tensor  # (B,)
    budget: torch.Tensor  # (B,)
    satisfaction: torch.Tensor  # (B,) running satisfaction in [-1, 1]
    steps: torch.Tensor  # (B,) int64 steps since arrival
    generation: torch.Tensor  # (B,) int64 users this slot held before
    keys: torch.Tensor  # (B,) int64 counter-RNG user keys of (slot, generation)
    history_ids: torch.Tensor  # (B, H) int64 catalog ids, most recent first, -1 padding
    history_responses: torch.Tensor  # (B, H, 2) (completion, rating / 5)
    # The world, shared by the batch
    seed: rng.SeedKeys
    global_step: int
    pool_ids: torch.Tensor  # (N,) int64 today's candidates
    trend_category: int  # -1 without a trend

    @property
    def num_users(self) -> int:
        return int(self.steps.shape[0])

    @classmethod
    def from_engine(cls, engine: Any) -> ReferenceState:
        """The true state of a batched ``Engine`` in float64 (to check it step by step)."""
        s, w = engine.state, engine.world
        if s is None or w is None:
            raise ValueError("the engine has no state yet; call engine.reset(seed) first")

        def f64(x: torch.Tensor) -> torch.Tensor:
            return x.detach().to("cpu", DTYPE)

        def same(x: torch.Tensor) -> torch.Tensor:
            return x.detach().to("cpu").clone()

        return cls(
            interest=f64(s.interest), satiation=f64(s.satiation),
            initial_interest=f64(s.initial_interest), persona=same(s.persona),
            beta=f64(s.beta), drift_rate=f64(s.drift_rate), boredom_weight=f64(s.boredom_weight),
            no_click_utility=f64(s.no_click_utility), price_sensitivity=f64(s.price_sensitivity),
            budget=f64(s.budget), satisfaction=f64(s.satisfaction), steps=same(s.steps),
            generation=same(s.generation), keys=same(s.keys), history_ids=same(s.history_ids),
            history_responses=f64(s.history_responses), seed=engine.seed_keys,
            global_step=int(w.global_step), pool_ids=same(w.pool_ids),
            trend_category=int(w.trend_category),
        )  # fmt: skip


@dataclass
class Outcome:
    """What one step produced, per user (the engine's ``info`` keys, plus reward and ends)."""

    reward: torch.Tensor  # (B,)
    terminated: torch.Tensor  # (B,) bool: left (budget spent or dissatisfied)
    truncated: torch.Tensor  # (B,) bool: reached max_steps
    slate_utilities: torch.Tensor  # (B, K) v of the shown items, position effect included
    clicks: torch.Tensor  # (B, K) bool
    chosen: torch.Tensor  # (B,) consumed position or -1
    item: torch.Tensor  # (B,) consumed catalog id or -1
    engagement: torch.Tensor
    completion: torch.Tensor
    rating: torch.Tensor
    purchased: torch.Tensor
    revenue: torch.Tensor
    best_utility: torch.Tensor  # (B,) max_j v_j + p_0: the best single item at the top
    regret: torch.Tensor  # (B,) best_utility − max_k slate utility
    drift: torch.Tensor  # (B,) cos(u after the step, u_0)
    boredom: torch.Tensor  # (B,) of the consumed item (of the top item if none)
    budget: torch.Tensor
    satisfaction: torch.Tensor
    churned: torch.Tensor  # (B,) bool (= terminated)

    def as_dict(self) -> dict[str, torch.Tensor]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


# --------------------------------------------------------------------------------- randomness
def step_draws(state: ReferenceState, params: ReferenceParams) -> torch.Tensor:
    """(B, c + 4 + r) uniforms of the step: hash(seed, STREAM_STEP, user key, user step).

    Columns: c = 1 (mnl) or K choice uniforms; completion noise, rating noise, purchase, churn
    hazard; r for the random walk (r = 0 without a walk). A user's draws depend only on the
    seed, its key and its own step count, never on B or on other users.
    """
    n = params.num_choice_draws + RESPONSE_DRAWS + params.rank
    key = rng.mix(state.seed.draws, rng.STREAM_STEP, state.keys, state.steps)
    return rng.uniform(key, n, dtype=DTYPE)


def candidate_pool(seed: rng.SeedKeys, global_step: int, params: ReferenceParams) -> torch.Tensor:
    """(N,) distinct catalog ids shown to everyone at ``global_step``: the first N of a
    permutation of the catalog drawn from hash(seed, STREAM_POOL, global step)."""
    gen = rng.generator(seed.world, rng.STREAM_POOL, global_step)
    m = params.embeddings.shape[0]
    return torch.randperm(m, generator=gen)[: params.config.num_candidates]


def trending_category(seed: rng.SeedKeys, global_step: int, params: ReferenceParams) -> int:
    """The category everyone drifts toward during the period holding ``global_step`` (-1 when
    there is no trend): hash(seed, STREAM_TREND, global_step // period) mod C."""
    if not params.trend:
        return -1
    period = params.model.exogenous.trend_period
    return _trending_category(seed.world, global_step, params.centroids.shape[0], period)


# --------------------------------------------------------------------------------- users
def new_users(
    seed: rng.SeedKeys, keys: torch.Tensor, params: ReferenceParams
) -> dict[str, torch.Tensor]:
    """Arrival draws of users with ``keys`` (n,): hash(seed, STREAM_INIT, key), k + 8 uniforms.

        persona   p = floor(U · P)
        interest  u_0 = normalise(persona_p + interest_noise · z U_k / √k)   (z ~ N(0, I_k))
        x         = base_x · exp(σ_x h_x − σ_x² / 2)   (mean-one lognormal, h_x ~ N(0, 1))
                    for beta, drift rate, boredom weight, price sensitivity, budget (≤ max)
        v0        = no_click_utility + no_click_std · h

    The noise lives in the catalog's top-k principal directions U_k: isotropic noise in a
    384-d space is nearly orthogonal to every item, so it would only shrink similarities.
    """
    model = params.model
    het, choice, budget = model.heterogeneity, model.choice, model.budget
    k, p = params.noise_basis.shape[0], params.personas.shape[0]
    u = rng.uniform(rng.mix(seed.draws, rng.STREAM_INIT, keys), k + ARRIVAL_DRAWS, dtype=DTYPE)
    z = rng.normal_from_uniforms(u, k + ARRIVAL_DRAWS - 1, dtype=DTYPE)
    persona = torch.clamp((u[:, -1] * p).to(torch.int64), max=p - 1)
    interest = params.personas[persona]
    if het.enabled and het.interest_noise > 0:
        interest = interest + (z[:, :k] * (het.interest_noise / math.sqrt(k))) @ params.noise_basis
    normalise_(interest)
    on = 1.0 if het.enabled else 0.0
    h = z[:, k:]

    def lognormal(column: int, base: float, spread: float) -> torch.Tensor:
        s = spread * on
        return base * torch.exp(h[:, column] * s - 0.5 * s * s)

    return {
        "persona": persona,
        "interest": interest,
        "beta": lognormal(0, choice.interest_weight, het.interest_spread),
        "drift_rate": lognormal(1, model.drift.rate, het.drift_spread),
        "boredom_weight": lognormal(2, model.satiation.boredom_weight, het.boredom_spread),
        "no_click_utility": choice.no_click_utility + on * het.no_click_std * h[:, 3],
        "price_sensitivity": lognormal(4, model.response.price_sensitivity, het.price_spread),
        "budget": torch.clamp(
            lognormal(5, budget.initial, het.budget_spread), max=budget.max_budget
        ),
    }


def replace_users(
    state: ReferenceState, rows: torch.Tensor, params: ReferenceParams
) -> ReferenceState:
    """A new state whose slots ``rows`` hold new users (the slot's next generation): fresh keys
    hash(seed, STREAM_USER_KEY, slot, generation), arrival draws, empty history, step 0."""
    generation = state.generation.clone()
    generation[rows] += 1
    keys = state.keys.clone()
    keys[rows] = rng.user_keys(state.seed.users, rows, generation[rows])
    drawn = new_users(state.seed, keys[rows], params)
    drawn["initial_interest"] = drawn["interest"]
    drawn["satiation"] = torch.zeros_like(drawn["interest"])
    drawn["satisfaction"] = torch.zeros(rows.shape[0], dtype=DTYPE)
    drawn["steps"] = torch.zeros_like(rows)
    drawn["history_ids"] = torch.full_like(state.history_ids[rows], -1)
    drawn["history_responses"] = torch.zeros_like(state.history_responses[rows])
    changes: dict[str, Any] = {"generation": generation, "keys": keys}
    for name, value in drawn.items():
        column = getattr(state, name).clone()
        column[rows] = value.to(column.dtype)
        changes[name] = column
    return replace(state, **changes)


def reference_reset(params: ReferenceParams, num_users: int, seed: int) -> ReferenceState:
    """B = ``num_users`` generation-0 users and the world at global step 0."""
    if isinstance(num_users, bool) or not isinstance(num_users, int) or num_users < 1:
        raise ValueError(f"num_users must be an int >= 1, got {num_users!r}")
    keys = rng.seed_keys(seed)
    b, d, h = num_users, params.embeddings.shape[1], params.config.history_length
    slots = torch.arange(b)
    zeros = torch.zeros(b, dtype=DTYPE)
    empty = ReferenceState(
        interest=torch.zeros(b, d, dtype=DTYPE),
        satiation=torch.zeros(b, d, dtype=DTYPE),
        initial_interest=torch.zeros(b, d, dtype=DTYPE),
        persona=torch.zeros(b, dtype=torch.int64),
        beta=zeros, drift_rate=zeros, boredom_weight=zeros, no_click_utility=zeros,
        price_sensitivity=zeros, budget=zeros, satisfaction=zeros,
        steps=torch.zeros(b, dtype=torch.int64),
        generation=torch.full((b,), -1, dtype=torch.int64),  # replace_users makes it 0
        keys=torch.zeros(b, dtype=torch.int64),
        history_ids=torch.full((b, h), -1, dtype=torch.int64),
        history_responses=torch.zeros(b, h, 2, dtype=DTYPE),
        seed=keys,
        global_step=0,
        pool_ids=candidate_pool(keys, 0, params),
        trend_category=trending_category(keys, 0, params),
    )  # fmt: skip
    return replace_users(empty, slots, params)


# --------------------------------------------------------------------------------- mechanisms
def utility(state: ReferenceState, params: ReferenceParams) -> torch.Tensor:
    """(B, N) utility of every candidate j of today's pool, without the position effect:

        v_j = γ a_j + β_b <u_b, e_j> − λ_b max(0, <s_b, e_j>)

    appeal a_j draws the click (clickbait's hook), interest match is weighted by the user's
    beta, and boredom — satiation's overlap with the item — subtracts.
    """
    e = params.embeddings[state.pool_ids]  # (N, d)
    appeal = params.model.choice.appeal_weight * params.appeal[state.pool_ids]
    v = appeal + state.beta.unsqueeze(1) * (state.interest @ e.T)
    if params.model.satiation.enabled:
        v = v - state.boredom_weight.unsqueeze(1) * boredom(state.satiation @ e.T)
    return v


def choice(
    slate_utilities: torch.Tensor,
    state: ReferenceState,
    params: ReferenceParams,
    uniforms: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``clicks`` (B, K) bool and ``chosen`` (B,) position or -1, by the scenario's choice model
    against the no-click utility v0 (``choice.choose``: mnl, cascade or independent)."""
    return choose(slate_utilities, state.no_click_utility, uniforms, params.model.choice)


def response(
    consumed: torch.Tensor,
    item: torch.Tensor,
    state: ReferenceState,
    params: ReferenceParams,
    uniforms: torch.Tensor,
) -> tuple[Response, torch.Tensor]:
    """The user's response to ``item`` (B,) catalog ids (``response.respond``), with m = <u, e>
    and boredom bo = max(0, <s, e>):

        completion f = sigmoid(c0 + c_a a + c_q q + c_m m − c_b bo + σ_f L)
        rating       = clip(round(1 + 4 sigmoid(r0 + r_q q + r_m m − r_b bo + σ_r L')), 1, 5)
        purchase     ~ Bernoulli(sigmoid(p0 + p_q q + p_m m − sens log(price / p_ref)))

    Returns the response and bo (B,)."""
    e = params.embeddings[item]
    match = (state.interest * e).sum(1)
    bored = boredom((state.satiation * e).sum(1))
    resp = respond(
        consumed, params.quality[item], params.appeal[item], params.cost[item], match, bored,
        state.price_sensitivity, uniforms, params.model.response,
    )  # fmt: skip
    return resp, bored


def reward(
    config: ScenarioConfig,
    engagement: torch.Tensor,
    clicks: torch.Tensor,
    revenue: torch.Tensor,
    rating: torch.Tensor,
) -> torch.Tensor:
    """(B,) the scenario's reward: one of the four signals, or their weighted sum ("mixed")."""
    kind = config.reward
    signals = {"engagement": engagement, "clicks": clicks, "revenue": revenue, "rating": rating}
    if kind != "mixed":
        return signals[kind]
    we, wc, wr, wt = config.reward_weights
    return we * engagement + wc * clicks + wr * revenue + wt * rating


def drift(
    interest: torch.Tensor,
    item_embedding: torch.Tensor,
    rating: torch.Tensor,
    consumed: torch.Tensor,
    drift_rate: torch.Tensor,
    model: UserModelConfig,
) -> torch.Tensor:
    """(B, d) u + a_b e with a_b = η_b (rating − neutral) / 2 for a consumed item, else 0
    (not normalised: ``exogenous`` adds to the same sum first). A liked item pulls the interest
    toward its embedding, a disliked one pushes it away (``drift.py``)."""
    a = drift_strength(rating, consumed, drift_rate, model.drift)
    moved = interest.clone()
    apply_drift(moved, item_embedding, a)
    return moved


def exogenous(
    interest: torch.Tensor,
    walk_uniforms: torch.Tensor,
    trend_category: int,
    params: ReferenceParams,
) -> torch.Tensor:
    """(B, d) interest + σ z U_r + τ c_t: a random walk along the catalog's top-r principal
    directions (z = Φ⁻¹(uniforms), r normals per user) and a pull toward the trending
    category's centroid c_t (``exogenous.py``). Not normalised."""
    ex = params.model.exogenous
    moved = interest.clone()
    normals = (
        rng.normal_from_uniforms(walk_uniforms, params.rank, dtype=DTYPE) if params.rank else None
    )
    trend = params.centroids[trend_category] if trend_category >= 0 else None
    apply_exogenous(moved, normals, params.walk_basis, trend, ex)
    return moved


def satiation(
    satiation_now: torch.Tensor,
    item_embedding: torch.Tensor,
    consumed: torch.Tensor,
    model: UserModelConfig,
) -> torch.Tensor:
    """(B, d) s ← decay · s + rate · e (e counted only when consumed; ``satiation.py``), then
    s_i ← 0 wherever |s_i| < float32's smallest normal (~1.2e-38, ``SATIATION_FLOOR``).

    Why the floor is part of the definition: a user who consumes nothing decays s toward 0, and
    in float32 (the engines' precision) it would end in subnormal numbers that rounding keeps
    for ever (decay > 1/2) and that make every later product of that user several times slower.
    Below the floor s changes no float32 utility, so every path flushes it to exactly 0 by
    this one rule."""
    s = satiation_now.clone()
    update_satiation(s, item_embedding, consumed, model.satiation)
    return s


def budget_and_churn(
    state: ReferenceState,
    cost: torch.Tensor,
    quality: torch.Tensor,
    resp: Response,
    consumed: torch.Tensor,
    uniform: torch.Tensor,
    model: UserModelConfig,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(budget, satisfaction, churned), each (B,) (``budget.py``):

    b ← min(b_max, b − step_cost − spend·c·f + refill·max(0, q − q0)·c·f)
    S ← a·S + (1 − a)·(rating − 3)/2                     (consumption steps only)
    leave if b ≤ 0, or if U < hazard · sigmoid(slope · (threshold − S))
    """
    cfg = model.budget
    budget = update_budget(state.budget, cost, resp.completion, quality, consumed, cfg)
    satisfaction = update_satisfaction(state.satisfaction, resp.rating, consumed, cfg)
    return budget, satisfaction, churn(budget, satisfaction, uniform, cfg)


def history(
    state: ReferenceState, item: torch.Tensor, resp: Response, consumed: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """(B, H) ids and (B, H, 2) responses with the consumed item first (unchanged if none)."""
    entry = torch.stack([resp.completion, resp.rating * 0.2], dim=1).to(DTYPE)
    ids = torch.cat([item.unsqueeze(1), state.history_ids[:, :-1]], dim=1)
    responses = torch.cat([entry.unsqueeze(1), state.history_responses[:, :-1]], dim=1)
    keep = consumed.unsqueeze(1)
    return (
        torch.where(keep, ids, state.history_ids),
        torch.where(keep.unsqueeze(2), responses, state.history_responses),
    )


# --------------------------------------------------------------------------------- the edge
def check_step_inputs(
    state: ReferenceState, slate: Any, params: ReferenceParams, draws: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """(slate, draws) as int64 (B, K) and float64 (B, n) tensors, or an error naming the bad
    value and what was expected (before anything is computed)."""
    if not isinstance(state, ReferenceState):
        raise TypeError(f"state must be a ReferenceState, got {type(state).__name__}")
    if not isinstance(params, ReferenceParams):
        raise TypeError(f"params must be a ReferenceParams, got {type(params).__name__}")
    b, cfg = state.num_users, params.config
    d = params.embeddings.shape[1]
    if state.interest.shape != (b, d) or state.pool_ids.shape != (cfg.num_candidates,):
        raise ValueError(
            f"state has interest {tuple(state.interest.shape)} and a pool of "
            f"{tuple(state.pool_ids.shape)}; expected ({b}, {d}) and ({cfg.num_candidates},) "
            "for these params (a state from other params?)"
        )
    slate_t = torch.from_numpy(validate_slate(slate, b, cfg.slate_size, cfg.num_candidates))
    n = params.num_choice_draws + RESPONSE_DRAWS + params.rank
    if not isinstance(draws, torch.Tensor) or not draws.is_floating_point():
        got = getattr(draws, "dtype", None)
        raise TypeError(
            f"draws must be a float tensor from step_draws, got {type(draws).__name__} of "
            f"dtype {got}"
        )
    if tuple(draws.shape) != (b, n):
        raise ValueError(
            f"draws have shape {tuple(draws.shape)}; expected ({b}, {n}) = (B, choice "
            f"{params.num_choice_draws} + response/churn {RESPONSE_DRAWS} + walk {params.rank})"
        )
    inside = (draws > 0) & (draws < 1)
    if not bool(inside.all()):
        bad = draws[~inside][:3].tolist()
        raise ValueError(f"draws {bad} are not strictly inside (0, 1); expected uniforms")
    return slate_t, draws.to(DTYPE)


# --------------------------------------------------------------------------------- the step
def reference_step(
    state: ReferenceState,
    slate: torch.Tensor,
    params: ReferenceParams,
    draws: torch.Tensor,
    *,
    autoreset: bool = True,
) -> tuple[ReferenceState, Outcome]:
    """One step of every user with slate (B, K) of distinct pool positions and ``draws`` =
    ``step_draws(state, params)``. Returns the new state (world advanced, and with
    ``autoreset`` the users who left replaced by new ones) and what the step produced. The
    input state is not changed."""
    slate, draws = check_step_inputs(state, slate, params, draws)
    m, c = params.model, params.num_choice_draws
    ex_draws = draws[:, c + RESPONSE_DRAWS :]
    noise, churn_uniform = draws[:, c : c + 3], draws[:, c + 3]

    # 1-2. utilities, slate utilities, choice
    v = utility(state, params)
    slate_util = v.gather(1, slate) + params.position_effect
    clicks, chosen = choice(slate_util, state, params, draws[:, :c])
    consumed = chosen >= 0
    # Where nothing was consumed the top item stands in; every output is masked by ``consumed``.
    item = state.pool_ids[slate.gather(1, chosen.clamp_min(0).unsqueeze(1)).squeeze(1)]

    # 3. response and reward
    resp, bored = response(consumed, item, state, params, noise)
    n_clicks = clicks.sum(dim=1).to(DTYPE)
    r = reward(params.config, resp.engagement, n_clicks, resp.revenue, resp.rating)

    # 4-5. interest (drift, then the exogenous walk and trend, normalised once) and satiation
    e = params.embeddings[item]
    interest = drift(state.interest, e, resp.rating, consumed, state.drift_rate, m)
    interest = exogenous(interest, ex_draws, state.trend_category, params)
    normalise_(interest)
    sat = satiation(state.satiation, e, consumed, m)

    # 6-7. budget, satisfaction, churn; history
    budget, satisfaction, churned = budget_and_churn(
        state, params.cost[item], params.quality[item], resp, consumed, churn_uniform, m
    )
    steps = state.steps + 1
    truncated = (steps >= params.config.max_steps) & ~churned
    history_ids, history_responses = history(state, item, resp, consumed)

    best = v.amax(dim=1) + params.position_effect[0]
    outcome = Outcome(
        reward=r, terminated=churned, truncated=truncated, slate_utilities=slate_util,
        clicks=clicks, chosen=chosen, item=torch.where(consumed, item, -1),
        engagement=resp.engagement, completion=resp.completion, rating=resp.rating,
        purchased=resp.purchased, revenue=resp.revenue, best_utility=best,
        regret=best - slate_util.amax(dim=1),
        drift=(interest * state.initial_interest).sum(1),
        boredom=bored, budget=budget, satisfaction=satisfaction, churned=churned,
    )  # fmt: skip

    # 8. the world advances; users who left are replaced
    t = state.global_step + 1
    new = replace(
        state, interest=interest, satiation=sat, budget=budget, satisfaction=satisfaction,
        steps=steps, history_ids=history_ids, history_responses=history_responses,
        global_step=t, pool_ids=candidate_pool(state.seed, t, params),
        trend_category=trending_category(state.seed, t, params),
    )  # fmt: skip
    done = churned | truncated
    if autoreset and bool(done.any()):
        new = replace_users(new, done.nonzero().squeeze(1), params)
    return new, outcome


def reference_rollout(params: ReferenceParams, seed: int, slates: torch.Tensor) -> list[Outcome]:
    """Outcomes of a whole trajectory run by the reference alone: B users reset with ``seed``
    and shown ``slates`` (T, B, K), with autoreset."""
    state = reference_reset(params, slates.shape[1], seed)
    outcomes = []
    for slate in slates:
        state, outcome = reference_step(state, slate, params, step_draws(state, params))
        outcomes.append(outcome)
    return outcomes
