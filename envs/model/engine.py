"""The batched user engine: B users stepped in one call, shared by the single and vector envs.

It computes what ``envs/model/reference.py`` defines (and is tested against it step by step:
``tests/envs/model/test_reference_step.py``), in a representation that touches (B, d) memory as
few times as possible, since at large B that memory traffic is what a step costs. One step, for
every user b at once (shapes in brackets):

1. the similarities of every user to the current pool are already known from the end of the
   previous step: ``sims`` = [u_stored; s_stored] (2B, d) @ [E_pool; c].T, computed as one product
   of [rows | walk] (2B, d + r) and [columns | <columns, U_r>] so that the random walk's
   coefficients are included. They give interest match, boredom, the utilities v (B, N), the best
   achievable utility (regret) and every inner product the closed-form updates below need
   (<u, U_r> is kept in closed form);
2. slate utilities = gather(v, slate) + position effect (B, K); the choice model picks a position
   or nothing (``choice.py``); the response model gives completion, engagement, rating, purchase
   (``response.py``) from per-item scalars gathered at the consumed position only;
3. state updates in a stored representation (``state.py``): drift ``a`` (``drift.py``) and
   satiation (``satiation.py``) add the consumed item's embedding, the trend (``exogenous.py``) a
   centroid column, the random walk ``z`` its (B, r) coefficients over the walk basis U_r (folded
   into the rows at renormalisation); satiation decay is a (B,) scale, and the interest norm and
   cos(u, u_0) follow in closed form from inner products the step already has (exact
   renormalisation at least every ``RENORM_EVERY`` steps); budget, satisfaction, churn
   (``budget.py``); history;
4. the world advances: a new candidate pool and its similarity product (``_draw_pool``,
   ``_refresh``); users who left are replaced in place (autoreset) with a new user key.

All randomness is counter-based (``rng.py``), so a user's trajectory depends only on the seed,
its slot, its generation and its actions, and products keep their rows independent of the row
count (``gemm.py``): a user's numbers are the same to the bit whatever B. Validation happens at
the env edge; nothing here is mutated before the inputs have been checked.

The public methods run under ``torch.inference_mode``: nothing here is differentiated, and a step
of few users is mostly per-operation overhead, which autograd's bookkeeping would add to
(``docs/performance.md``). The state's tensors are therefore inference tensors: to edit one in
place from outside (a test, an experiment), do it inside ``torch.inference_mode()``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from .. import rng
from ..agent_view import build_agent_view
from ..config import ScenarioConfig
from ..gemm import MIN_GEMM_ROWS, rows_stable_mm, similarity_product
from ..sources.users import UserPool, draw_new_users, persona_pool, synthetic_pool
from .budget import churn, update_budget, update_satisfaction
from .choice import choose, examination, position_effect
from .drift import drift_strength
from .exogenous import trending_category
from .params import catalog_bases, resolve_user_model
from .reference import reward as scenario_reward
from .response import completion_logit, purchase_logit, rating_mean, respond
from .satiation import flush_small_
from .state import UserState, WorldState

# Exact renormalisation of a user's stored interest at least every this many of its own steps
# bounds the float error of the closed-form norm update (keyed by the user's step count, so it
# does not depend on B).
RENORM_EVERY = 64
# <e, u_0> of a consumed item comes from tables over the catalog — <persona, e> (P, M) and
# <noise basis, e> (M, NOISE_RANK) — instead of a (B, d) dot product per step (a pass over (B, d)
# memory that cost about a tenth of a step at B=4096: docs/performance.md), unless the persona
# table would hold more entries than this (then the dot product with the stored u_0).
MAX_PERSONA_TABLE = 1 << 24
# Satiation stored as scale · s_stored; fold the scale in before it underflows.
MIN_SATIATION_SCALE = 1e-6




@dataclass
class StepResult:
    """Tensors of one engine step (leading B)."""

    reward: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    info: dict[str, torch.Tensor]
    final_rows: torch.Tensor | None  # (n,) slots whose user left and was replaced
    final_obs: dict[str, np.ndarray] | None  # batched (n, ...) last observation of those users


def _as_np(x: Any, dtype: Any) -> np.ndarray:
    return np.asarray(x, dtype=dtype)


class Engine:
    """Catalog tensors, user pool, config and the mutable ``UserState``/``WorldState``.

    Args:
        catalog: a ``Catalog`` (embeddings, quality, appeal, cost, popularity, category ids).
        config: the scenario.
        num_users: B.
        user_pool: user types; default from persona texts (or category mixtures, see ``users``).
        encoder: the catalog's encoder (to encode persona texts); None → no persona texts.
    """

    def __init__(
        self,
        catalog: Any,
        config: ScenarioConfig,
        num_users: int,
        user_pool: UserPool | None = None,
        encoder: Any = None,
    ) -> None:
        if isinstance(num_users, bool) or not isinstance(num_users, (int, np.integer)):
            raise TypeError(f"num_users must be an int, got {num_users!r}")
        if num_users < 1:
            raise ValueError(f"num_users must be >= 1, got {num_users}")
        m = len(catalog)
        if config.num_candidates > m:
            raise ValueError(
                f"num_candidates N={config.num_candidates} exceeds the catalog size M={m}"
            )
        self.config = config
        # config.user_model with the catalog-dependent defaults resolved
        self.model = resolve_user_model(config.user_model, catalog.cost)
        self.catalog = catalog
        self.num_users = int(num_users)
        self.device = torch.device(config.device)
        dev = self.device

        def t(x: Any, dtype: torch.dtype) -> torch.Tensor:
            return torch.tensor(np.array(x), dtype=dtype, device=dev).contiguous()

        self.embeddings = t(_as_np(catalog.embeddings, np.float32), torch.float32)
        self.dim = int(self.embeddings.shape[1])
        self.quality = t(catalog.quality, torch.float32)
        self.appeal = t(getattr(catalog, "appeal", catalog.quality), torch.float32)
        self.cost = t(catalog.cost, torch.float32)
        self.popularity = t(catalog.popularity, torch.float32)
        self.category_ids = t(catalog.category_ids, torch.int64)
        self.num_categories = len(catalog.categories)

        view, items_agent, agent_encoder = build_agent_view(catalog, config)
        self.agent_view = view
        self.item_embeddings = np.array(items_agent, dtype=np.float32, order="C")
        self.agent_dim = int(self.item_embeddings.shape[1])
        self._items_agent_t = torch.from_numpy(self.item_embeddings).to(dev)

        pool = user_pool if user_pool is not None else self._default_pool(encoder)
        if not isinstance(pool, UserPool):
            raise TypeError(f"user_pool must be a UserPool, got {type(pool).__name__}")
        if pool.interests.shape[1] != self.dim:
            raise ValueError(
                f"user_pool.interests has dim {pool.interests.shape[1]}; expected the catalog's "
                f"embedding dim {self.dim}"
            )
        self.user_pool = pool
        self.pool_interests = t(pool.interests, torch.float32)
        self.pool_profiles = t(self._agent_profiles(pool, agent_encoder), torch.float32)

        ex = self.model.exogenous
        self.centroids, self.noise_basis, self.basis = catalog_bases(
            self.embeddings, self.category_ids, self.num_categories, self.model
        )
        walk = self.basis is not None
        self.rank = 0 if self.basis is None else int(self.basis.shape[0])
        self.trend = ex.enabled and ex.trend_strength > 0
        # Tables for the closed-form interest norm: <e_j, U_r>, <e_j, c>, <U_r, c>.
        self._item_basis = self.embeddings @ self.basis.T if walk else None  # (M, r)
        self._item_centroid = self.embeddings @ self.centroids.T  # (M, C)
        self._basis_centroid = self.basis @ self.centroids.T if walk else None  # (r, C)
        self._walk_draws = self.rank
        # <u_0, e> = (<persona, e> + noise · <noise basis, e>) / norm (users.NewUsers).
        m_items, p_types = self.embeddings.shape[0], self.pool_interests.shape[0]
        if m_items * p_types <= MAX_PERSONA_TABLE:
            self._persona_items = (self.pool_interests @ self.embeddings.T).reshape(-1)  # (P·M,)
            self._noise_items = self.embeddings @ self.noise_basis.T  # (M, k)
        else:
            self._persona_items = self._noise_items = None
        k = config.slate_size
        self._choice_draws = 1 if self.model.choice.model == "mnl" else k
        self.position_effect = position_effect(k, self.model.choice, dev)
        self.examination = examination(k, self.model.choice, dev)
        self.state: UserState | None = None
        self.world: WorldState | None = None
        self.seed_keys: rng.SeedKeys | None = None  # of world.seed (set by reset)
        self.candidate_values: torch.Tensor | None = None

    # ----------------------------------------------------------------------------- users
    def _default_pool(self, encoder: Any) -> UserPool:
        het = self.model.heterogeneity
        if encoder is not None and getattr(encoder, "name", None) == getattr(
            self.catalog, "encoder_name", None
        ):
            try:
                return persona_pool(self.catalog, het, encoder)
            except (ImportError, ValueError, KeyError):
                # Unknown domain (custom catalog): users are mixtures of category centroids.
                pass
        return synthetic_pool(self.catalog, het)

    def _agent_profiles(self, pool: UserPool, agent_encoder: Any) -> np.ndarray:
        prof = pool.profiles
        if self.agent_view.kind == "encoder":
            if pool.texts is not None and agent_encoder is not None:
                return np.asarray(agent_encoder.encode(list(pool.texts)), dtype=np.float32)
            if prof.shape[1] == self.agent_dim:
                return prof
            raise ValueError(
                f"agent_view='encoder' needs persona texts or profiles of dim {self.agent_dim}; "
                f"got profiles of dim {prof.shape[1]} and no texts"
            )
        if prof.shape[1] == self.dim:
            return self.agent_view.transform(prof)
        if prof.shape[1] == self.agent_dim:
            return prof
        raise ValueError(
            f"user_pool.profiles has dim {prof.shape[1]}; expected {self.dim} (catalog space) "
            f"or {self.agent_dim} (agent space)"
        )

    @torch.inference_mode()
    def reset(self, seed: int) -> None:
        """All slots get generation-0 users; global step 0."""
        b, d, h = self.num_users, self.dim, self.config.history_length
        dev = self.device
        f32 = {"dtype": torch.float32, "device": dev}
        self.seed_keys = rng.seed_keys(seed)
        zeros = torch.zeros(b, **f32)
        # At least MIN_GEMM_ROWS rows: the BLAS takes another code path for tiny matrices, which
        # would make B = 1 round differently from B = 64 (see gemm.py).
        n_rows = max(2 * b, MIN_GEMM_ROWS)
        self.state = UserState(
            storage=torch.zeros(n_rows, d + self.rank, **f32),
            walk_basis=self.basis if self.basis is not None else torch.empty(0, d, **f32),
            interest_basis=torch.zeros(b, self.rank, **f32),
            initial_interest=torch.zeros(b, d, **f32),
            initial_noise=torch.zeros(b, self.noise_basis.shape[0], **f32),
            initial_inv_norm=torch.ones(b, **f32),
            initial_basis=torch.zeros(b, self.rank, **f32),
            initial_centroid=torch.zeros(b, self.num_categories if self.trend else 0, **f32),
            interest_dot_initial=torch.ones(b, **f32),
            interest_norm=torch.ones(b, **f32),
            satiation_scale=torch.ones(b, **f32),
            dirty=torch.zeros(b, dtype=torch.bool, device=dev),
            persona=torch.zeros(b, dtype=torch.int64, device=dev),
            budget=zeros.clone(),
            satisfaction=zeros.clone(),
            beta=zeros.clone(),
            drift_rate=zeros.clone(),
            boredom_weight=zeros.clone(),
            no_click_utility=zeros.clone(),
            price_sensitivity=zeros.clone(),
            steps=torch.zeros(b, dtype=torch.int64, device=dev),
            generation=torch.zeros(b, dtype=torch.int64, device=dev),
            keys=rng.user_keys(
                self.seed_keys.users,
                torch.arange(b, device=dev),
                torch.zeros(b, dtype=torch.int64, device=dev),
            ),
            history_ids=torch.full((b, h), -1, dtype=torch.int64, device=dev),
            history_responses=torch.zeros(b, h, 2, **f32),
            done=torch.zeros(b, dtype=torch.bool, device=dev),
        )
        self.world = WorldState(
            seed=int(seed), global_step=0, pool_ids=torch.empty(0, dtype=torch.int64),
            columns=torch.empty(0), product_columns=torch.empty(0), trend_category=-1,
            sims=torch.empty(0), utilities=torch.empty(0),  # both set by _refresh below
        )  # fmt: skip
        # One step's exogenous increments (walk z·n, trend τ·n), padded like the walk.
        walk_rows = self.state.walk.shape[0]
        self._walk_coef = torch.zeros(walk_rows, self.rank + int(self.trend), **f32)
        # The consumed items' embeddings, gathered into memory the process already holds: a
        # fresh (B, d) tensor every step costs more in page faults than the copy itself
        # (docs/performance.md).
        self._consumed = torch.empty(b, d, **f32)
        self._init_rows(torch.arange(b, device=dev))
        self._draw_pool()
        self._refresh()

    def _init_rows(self, rows: torch.Tensor) -> None:
        """Fresh users in slots ``rows`` (keys already set); the next product computes their
        similarities. Exposed tensors are replaced."""
        s, b = self.state, self.num_users
        new = draw_new_users(
            self.seed_keys.draws,
            s.keys.index_select(0, rows),
            self.pool_interests,
            self.model,
            self.noise_basis,
        )
        s.rows.index_copy_(0, rows, new.interest)
        s.rows.index_fill_(0, rows + b, 0.0)
        s.walk.index_fill_(0, rows, 0.0)
        s.initial_interest.index_copy_(0, rows, new.interest)
        if new.noise is not None:
            s.initial_noise.index_copy_(0, rows, new.noise)
        else:
            s.initial_noise.index_fill_(0, rows, 0.0)
        s.initial_inv_norm.index_copy_(0, rows, 1.0 / new.norm.squeeze(1))
        s.interest_dot_initial.index_fill_(0, rows, 1.0)
        if self.rank:
            basis_dots = rows_stable_mm(new.interest, self.basis.T)
            s.initial_basis.index_copy_(0, rows, basis_dots)
            s.interest_basis.index_copy_(0, rows, basis_dots)
        if self.trend:
            s.initial_centroid.index_copy_(0, rows, rows_stable_mm(new.interest, self.centroids.T))
        s.interest_norm.index_fill_(0, rows, 1.0)
        s.satiation_scale.index_fill_(0, rows, 1.0)
        s.dirty.index_fill_(0, rows, False)
        s.persona.index_copy_(0, rows, new.persona)
        s.beta.index_copy_(0, rows, new.beta)
        s.drift_rate.index_copy_(0, rows, new.drift_rate)
        s.boredom_weight.index_copy_(0, rows, new.boredom_weight)
        s.no_click_utility.index_copy_(0, rows, new.no_click_utility)
        s.price_sensitivity.index_copy_(0, rows, new.price_sensitivity)

        def replaced(x: torch.Tensor, value: Any) -> torch.Tensor:
            y = x.clone()
            y[rows] = value
            return y

        s.budget = replaced(s.budget, new.budget)
        s.satisfaction = replaced(s.satisfaction, 0.0)
        s.steps = replaced(s.steps, 0)
        s.history_ids = replaced(s.history_ids, -1)
        s.history_responses = replaced(s.history_responses, 0.0)
        s.done = replaced(s.done, False)

    @torch.inference_mode()
    def replace_users(self, rows: torch.Tensor, *, refresh: bool = False) -> None:
        """New users (next generation) in slots ``rows``. ``refresh``: called outside ``step``
        (e.g. the single env's reset), bring the similarities up to date now."""
        s = self.state
        gen = s.generation.clone()
        gen[rows] += 1
        s.generation = gen
        keys = s.keys.clone()
        keys[rows] = rng.user_keys(self.seed_keys.users, rows, gen[rows])
        s.keys = keys
        self._init_rows(rows)
        if refresh:
            self._refresh()

    # ----------------------------------------------------------------------------- world
    def _draw_pool(self) -> None:
        """The N candidates of the current global step (``reference.candidate_pool``) and the
        product's columns: [E_pool; c_trend], with <columns, U_r> appended for the walk."""
        w = self.world
        gen = rng.generator(self.seed_keys.world, rng.STREAM_POOL, w.global_step)
        m = self.embeddings.shape[0]
        ids = torch.randperm(m, generator=gen)[: self.config.num_candidates].to(self.device)
        w.pool_ids = ids
        parts = [self.embeddings.index_select(0, ids)]
        w.trend_category = -1
        if self.trend:
            ex = self.model.exogenous
            w.trend_category = trending_category(
                self.seed_keys.world, w.global_step, self.num_categories, ex.trend_period
            )
            parts.append(self.centroids[w.trend_category].unsqueeze(0))
        w.columns = torch.cat(parts) if len(parts) > 1 else parts[0]
        # The product's right operand: [columns | <columns, U_r>] against [rows | walk].
        w.product_columns = (
            torch.cat([w.columns, w.columns @ self.basis.T], dim=1) if self.rank else w.columns
        )
        self._pool_quality = self.quality[ids]
        self._pool_appeal = self.appeal[ids]
        self._pool_appeal_term = self._pool_appeal * self.model.choice.appeal_weight
        self._pool_cost = self.cost[ids]
        # The candidate arrays of observations: new arrays every step (Gymnasium requires that
        # observations of different calls share no memory), never mutated afterwards.
        self._pool_obs = {
            "candidate_ids": ids.cpu().numpy().copy(),
            "candidate_embeddings": self._items_agent_t.index_select(0, ids).cpu().numpy(),
            "candidate_categories": self.category_ids[ids].cpu().numpy(),
            "candidate_popularity": self.popularity[ids].cpu().numpy(),
        }

    def _blocks(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, N) raw views <u_stored, e_j>, <s_stored, e_j> of the similarities."""
        b, n, g = self.num_users, self.config.num_candidates, self.world.sims
        return g[:b, :n], g[b : 2 * b, :n]

    def _refresh(self) -> None:
        """Similarities to the current pool (one GEMM), utilities and the oracle values."""
        # [rows | walk] @ [columns | <columns, U_r>].T: u_stored = rows + walk @ U_r included.
        self.world.sims = similarity_product(*self.similarity_operands())
        self._utilities()

    def similarity_operands(self) -> tuple[torch.Tensor, torch.Tensor]:
        """The operands of the product that scores every user against a new pool: the state's
        ``storage`` (max(2B, 8), d + r) and the world's ``product_columns`` (C, d + r)."""
        return self.state.storage, self.world.product_columns

    @torch.inference_mode()
    def enable_oracle_info(self) -> None:
        """Report ``info["candidate_values"]`` from now on (``ScenarioConfig.oracle_info``)."""
        if not self.config.oracle_info:
            self.config = replace(self.config, oracle_info=True)
            if self.world is not None and self.world.utilities.numel():
                self.candidate_values = self._candidate_values()

    @torch.inference_mode()
    def candidate_info(self) -> dict[str, torch.Tensor]:
        """(B, N) ground truth of the current candidates (the info of ``reset``, and of ``step``
        about the returned observation)."""
        info = {"candidate_utilities": self.world.utilities}
        if self.config.oracle_info:
            info["candidate_values"] = self.candidate_values
        return info

    def _boredom(self, index: torch.Tensor | None = None) -> torch.Tensor:
        """max(0, <s, e_j>) in true units for every candidate (``index`` None) or for the pool
        positions ``index`` (B, k); zero with satiation off."""
        s_raw = self._blocks()[1]
        raw = s_raw if index is None else s_raw.gather(1, index)
        if not self.model.satiation.enabled:
            return torch.zeros_like(raw)
        return raw.clamp_min(0.0).mul_(self.state.satiation_scale.unsqueeze(1))

    def _utilities(self) -> None:
        """Utilities (and the oracle values, when asked for) from the similarities."""
        s, w = self.state, self.world
        u_raw, s_raw = self._blocks()
        util = torch.addcmul(self._pool_appeal_term, u_raw, (s.beta / s.interest_norm).unsqueeze(1))
        if self.model.satiation.enabled:
            weight = (s.boredom_weight * s.satiation_scale).neg_().unsqueeze(1)
            util.addcmul_(s_raw.clamp_min(0.0), weight)
        w.utilities = util
        if self.config.oracle_info:
            self.candidate_values = self._candidate_values()

    def _candidate_values(self) -> torch.Tensor:
        """(B, N) immediate expected reward of each candidate shown alone at position 1
        (noise-free plug-in for the completion/purchase/rating means). Info only, so the fused
        ``torch.sigmoid`` is fine here (see ``rng.sigmoid`` for why dynamics avoid it)."""
        s, w = self.state, self.world
        c, r = self.model.choice, self.model.response
        shift = s.no_click_utility - self.position_effect[0]
        if c.temperature != 1.0:
            logit = (w.utilities - shift.unsqueeze(1)).mul_(1.0 / c.temperature)
        else:
            logit = w.utilities - shift.unsqueeze(1)
        p_click = torch.sigmoid_(logit)
        if c.model != "mnl" and self.examination[0] != 1.0:
            p_click.mul_(self.examination[0])
        kind, weights = self.config.reward, self.config.reward_weights
        need = {
            name: kind == name or (kind == "mixed" and weights[i] != 0)
            for i, name in enumerate(("engagement", "clicks", "revenue", "rating"))
        }
        q, a, cost = self._pool_quality, self._pool_appeal, self._pool_cost
        u_raw, _ = self._blocks()
        boredom = self._boredom()
        inv_n = (1.0 / s.interest_norm).unsqueeze(1)
        zero = torch.zeros_like(q)
        parts: dict[str, torch.Tensor] = {}
        if need["engagement"] or need["revenue"]:
            if r.purchase_enabled:
                # purchase_logit(q, m, price, sens) with m = u_raw / n, in place
                base = purchase_logit(q, zero, cost, zero, r)
                buy = u_raw * (inv_n * r.purchase_match)
                buy.add_(base).sub_(
                    s.price_sensitivity.unsqueeze(1) * torch.log(cost / r.price_reference)
                )
                parts["engagement"] = torch.sigmoid_(buy).mul_(p_click)
                parts["revenue"] = parts["engagement"] * cost
            else:
                # completion_logit(q, a, m, bo) with m = u_raw / n, in place
                f = u_raw * (inv_n * r.completion_match)
                f.add_(completion_logit(q, a, zero, zero, r))
                f.add_(boredom, alpha=-r.completion_boredom)
                parts["engagement"] = torch.sigmoid_(f).mul_(p_click).mul_(cost)
                parts["revenue"] = torch.zeros_like(p_click)
        if need["clicks"]:
            parts["clicks"] = p_click
        if need["rating"]:
            parts["rating"] = p_click * rating_mean(q, u_raw * inv_n, boredom, r)
        if kind != "mixed":
            return parts[kind]
        total = torch.zeros_like(p_click)
        for name, wt in zip(("engagement", "clicks", "revenue", "rating"), weights):
            if wt != 0:
                total.add_(parts[name], alpha=wt)
        return total

    # ----------------------------------------------------------------------------- step
    @torch.inference_mode()
    def step(self, slate: torch.Tensor, *, autoreset: bool = True) -> StepResult:
        """Advance every user one step with a validated (B, K) int64 slate of pool positions."""
        s, w, m = self.state, self.world, self.model
        b = slate.shape[0]
        n_cand, r = self.config.num_candidates, self.rank
        seed = self.seed_keys.draws
        util = w.utilities
        slate_util = util.gather(1, slate) + self.position_effect

        # One counter-based draw per user-step: choice (1 for mnl, else K), completion noise,
        # rating noise, purchase, churn hazard, then r uniforms for the random walk.
        nc = self._choice_draws
        uni = rng.uniform(
            rng.mix(seed, rng.STREAM_STEP, s.keys, s.steps), nc + 4 + self._walk_draws
        )
        clicks, chosen = choose(slate_util, s.no_click_utility, uni[:, :nc], m.choice)
        consumed = chosen >= 0
        pos = slate.gather(1, chosen.clamp_min(0).unsqueeze(1)).squeeze(1)
        item = w.pool_ids[pos]
        u_raw, _ = self._blocks()
        inv_n = 1.0 / s.interest_norm
        pos1 = pos.unsqueeze(1)
        match = u_raw.gather(1, pos1).squeeze(1) * inv_n
        bored, top_bored = self._boredom(torch.cat([pos1, slate[:, :1]], dim=1)).unbind(1)
        q, cost = self._pool_quality[pos], self._pool_cost[pos]
        resp = respond(
            consumed, q, self._pool_appeal[pos], cost, match, bored, s.price_sensitivity,
            uni[:, nc : nc + 3], m.response,
        )  # fmt: skip
        n_clicks = clicks.sum(dim=1).to(torch.float32)
        reward = scenario_reward(self.config, resp.engagement, n_clicks, resp.revenue, resp.rating)

        # Dynamics in the stored representation (state.py): u_stored += n (a e + z U_r + τ c),
        # s_stored += rate / scale' · e; the new norm and <u, u_0> follow in closed form.
        a = drift_strength(resp.rating, consumed, s.drift_rate, m.drift)
        n = s.interest_norm
        ex = m.exogenous
        moved = consumed & (a != 0) if m.drift.enabled else torch.zeros_like(consumed)
        sq = 1.0 + a * a + 2.0 * a * match
        e = torch.index_select(w.columns, 0, pos, out=self._consumed)  # (B, d)
        e_u0 = self._item_dot_initial(item, e)
        dot = s.interest_dot_initial + n * a * e_u0
        if r or self.trend:
            walk = self._walk_coef
            if r:
                z = rng.normal_from_uniforms(uni[:, nc + 4 :], r) * ex.walk_std
                walk[:b, :r] = z * n.unsqueeze(1)
                z_u = (z * s.interest_basis).sum(1) * inv_n
                item_basis = self._item_basis.index_select(0, item)
                z_e = (z * item_basis).sum(1)
                sq = sq + (z * z).sum(1) + 2.0 * z_u + 2.0 * a * z_e
                dot = dot + n * (z * s.initial_basis).sum(1)
                # <u_stored, U_r> += n (a <e, U_r> + z + τ <c, U_r>) (U_r orthonormal)
                basis_step = torch.addcmul(z, item_basis, a.unsqueeze(1))
            if self.trend:
                t, col, cat = ex.trend_strength, n_cand, w.trend_category
                walk[:b, r] = n * t
                u_c = w.sims[:b, col] * inv_n
                e_c = self._item_centroid[:, cat].index_select(0, item)
                sq = sq + t * t + 2.0 * t * u_c + 2.0 * a * t * e_c
                if r:
                    sq = sq + 2.0 * t * (z * self._basis_centroid[:, cat]).sum(1)
                    basis_step.add_(self._basis_centroid[:, cat], alpha=t)
                dot = dot + n * t * s.initial_centroid[:, cat]
            if r:
                s.interest_basis = s.interest_basis + basis_step * n.unsqueeze(1)
                s.walk.add_(walk[:, :r])
            if self.trend:
                # At least MIN_GEMM_ROWS rows (zero rows add exactly 0): B-invariant rounding.
                rows = walk.shape[0]
                s.rows[:rows].addmm_(walk[:, r:], w.columns[n_cand:])
            moved = torch.ones_like(consumed)
        # The consumed item's embedding enters u_stored with weight n·a and s_stored with
        # rate / scale' (satiation on): columns of the (2, B) coefficient blocks.
        weights = [(n * a).unsqueeze(1)]
        sat = m.satiation
        if sat.enabled:
            scale = s.satiation_scale * sat.decay
            weights.append(torch.where(consumed, sat.rate / scale, 0.0).unsqueeze(1))
            s.satiation_scale = scale
        blocks = len(weights)
        weight = torch.stack(weights)  # (blocks, B, 1)
        s.rows[: blocks * b].view(blocks, b, -1).addcmul_(e.unsqueeze(0), weight)
        s.interest_norm = n * torch.sqrt(torch.clamp_min(sq, 1e-12))
        s.interest_dot_initial = dot
        s.dirty = s.dirty | moved

        budget = update_budget(s.budget, cost, resp.completion, q, consumed, m.budget)
        satisfaction = update_satisfaction(s.satisfaction, resp.rating, consumed, m.budget)
        terminated = churn(budget, satisfaction, uni[:, nc + 3], m.budget)
        steps = s.steps + 1
        truncated = (steps >= self.config.max_steps) & ~terminated

        new_entry = torch.stack([resp.completion, resp.rating * 0.2], dim=1)
        keep = consumed.unsqueeze(1)
        s.history_ids = torch.where(
            keep, torch.cat([item.unsqueeze(1), s.history_ids[:, :-1]], dim=1), s.history_ids
        )
        s.history_responses = torch.where(
            keep.unsqueeze(2),
            torch.cat([new_entry.unsqueeze(1), s.history_responses[:, :-1]], dim=1),
            s.history_responses,
        )
        s.budget, s.satisfaction, s.steps = budget, satisfaction, steps
        self._maintain(steps)

        best = util.amax(dim=1) + self.position_effect[0]
        info = {
            "slate_utilities": slate_util,
            "clicks": clicks,
            "chosen": chosen,
            "item": torch.where(consumed, item, -1),
            "engagement": resp.engagement,
            "completion": resp.completion,
            "rating": resp.rating,
            "purchased": resp.purchased,
            "revenue": resp.revenue,
            "best_utility": best,
            "regret": best - slate_util.amax(dim=1),
            "drift": s.interest_dot_initial / s.interest_norm,
            "boredom": torch.where(consumed, bored, top_bored),
            "budget": budget,
            "satisfaction": satisfaction,
            "churned": terminated,
        }

        done = terminated | truncated
        final_rows = final_obs = None
        w.global_step += 1
        self._draw_pool()
        if autoreset:
            if bool(done.any()):
                final_rows = done.nonzero().squeeze(1)
                final_obs = self.observation(final_rows)
                self.replace_users(final_rows)
        else:
            s.done = done
        self._refresh()
        info.update(self.candidate_info())
        return StepResult(reward, terminated, truncated, info, final_rows, final_obs)

    def _item_dot_initial(self, item: torch.Tensor, e: torch.Tensor | None) -> torch.Tensor:
        """(B,) <e_item, u_0> from the catalog tables (``MAX_PERSONA_TABLE``), else the dot
        product with the stored u_0 (``e``: the items' embeddings, if already gathered)."""
        s = self.state
        if self._persona_items is not None:
            m = self.embeddings.shape[0]
            persona = self._persona_items.index_select(0, s.persona * m + item)
            noise = (s.initial_noise * self._noise_items.index_select(0, item)).sum(1)
            return (persona + noise) * s.initial_inv_norm
        if e is None:
            e = self.embeddings.index_select(0, item)
        return torch.linalg.vecdot(e, s.initial_interest)

    def _maintain(self, steps: torch.Tensor) -> None:
        """Exact renormalisation of drifted interests (see RENORM_EVERY), and folding of small
        satiation scales. Row-local and keyed by the user's own step, so it does not depend on
        B."""
        s, b = self.state, self.num_users
        due = s.dirty & (steps % RENORM_EVERY == 0)
        if bool(due.any()):
            self._renormalise_users(due.nonzero().squeeze(1))
        small = s.satiation_scale < MIN_SATIATION_SCALE
        if bool(small.any()):
            # The fold materialises s, so the reference's floor applies here (satiation.py):
            # each fold shrinks s_stored by ~1e-6, and without it a decayed row would pass
            # through subnormal numbers that slow the product of that row several-fold.
            idx = small.nonzero().squeeze(1)
            factor = s.satiation_scale[idx].unsqueeze(1)
            folded = flush_small_(s.rows.index_select(0, idx + b) * factor)
            s.rows.index_copy_(0, idx + b, folded)
            s.satiation_scale.index_fill_(0, idx, 1.0)

    def _renormalise_users(self, idx: torch.Tensor) -> None:
        """Exact renormalisation of the interests of users ``idx`` (a few per step: gathered),
        with the walk's coefficients folded into their rows."""
        s = self.state
        u = s.rows.index_select(0, idx)
        if self.rank:
            u = u + rows_stable_mm(s.walk.index_select(0, idx), self.basis)
            s.walk.index_fill_(0, idx, 0.0)
        norm = torch.linalg.vector_norm(u, dim=1, keepdim=True)
        u = u / norm
        s.rows.index_copy_(0, idx, u)
        if self.rank:
            s.interest_basis.index_copy_(0, idx, rows_stable_mm(u, self.basis.T))
        dot = torch.linalg.vecdot(u, s.initial_interest.index_select(0, idx))
        s.interest_dot_initial.index_copy_(0, idx, dot)
        s.interest_norm.index_fill_(0, idx, 1.0)
        s.dirty.index_fill_(0, idx, False)

    # ----------------------------------------------------------------------------- observe
    @torch.inference_mode()
    def observation(self, rows: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Batched observation dict (numpy). Candidate arrays are broadcast views of the pool
        (read-only, no copy); the per-user arrays are views of tensors that are replaced, never
        mutated, so an observation never changes after it is returned. ``rows`` selects users."""
        s = self.state
        hist = s.history_ids if rows is None else s.history_ids[rows]
        n = hist.shape[0]

        def pick(x: torch.Tensor) -> torch.Tensor:
            return x if rows is None else x[rows]

        out: dict[str, np.ndarray] = {}
        for key, arr in self._pool_obs.items():
            out[key] = np.broadcast_to(arr, (n, *arr.shape))
        out["history_ids"] = hist.cpu().numpy()
        out["history_responses"] = pick(s.history_responses).cpu().numpy()
        out["history_mask"] = (hist >= 0).to(torch.int8).cpu().numpy()
        # A new array per call (Gymnasium requires that observations of different calls share
        # no memory): the public profile is the persona's, gathered.
        out["profile_embedding"] = self.pool_profiles.index_select(0, pick(s.persona)).cpu().numpy()
        out["step"] = pick(s.steps).unsqueeze(1).cpu().numpy()
        return out
