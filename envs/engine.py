"""The batched user engine: B users stepped in one call, shared by the single and vector envs.

One step, for every user b at once (shapes in brackets):

1. utilities of today's N candidates are already known from the end of the previous step:
   ``[u; s] (2B, d) @ E_pool.T → (2B, N)`` — one matrix product gives interest match, boredom,
   the utilities v (B, N), the best achievable utility (regret) and the oracle's candidate values;
2. slate utilities = gather(v, slate) + position effect (B, K); the choice model picks a position
   or nothing (``choice.py``); the response model gives completion, engagement, rating, purchase
   (``response.py``) from per-item scalars gathered at the consumed position only;
3. state updates: satiation (``satiation.py``), drift (``drift.py``), exogenous drift
   (``exogenous.py``) — only the consumed item's embedding (B, d) is gathered; budget,
   satisfaction and churn (``budget.py``); history;
4. users who left are replaced in place (autoreset) with a new user key; the world advances one
   global step and draws the next pool; the utilities of the new pool are computed (step 1).

All randomness is counter-based (``rng.py``), so a user's trajectory depends only on the seed,
its slot, its generation and its actions. Validation happens at the env edge; nothing here is
mutated before the inputs have been checked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from . import rng
from .agent_view import build_agent_view
from .budget import churn, update_budget, update_satisfaction
from .choice import choose, examination, position_effect
from .config import ScenarioConfig
from .drift import apply_drift, drift_strength, normalise_
from .exogenous import apply_exogenous, category_centroids, principal_basis, trending_category
from .response import completion_logit, purchase_logit, rating_mean, respond
from .satiation import boredom as boredom_of
from .satiation import update_satiation
from .state import UserState, WorldState
from .users import UserPool, draw_new_users, persona_pool, synthetic_pool

# Matrix products with fewer rows than this take a different MKL kernel whose rounding differs;
# padding keeps every user's numbers independent of B (batch-size invariance to the bit).
MIN_GEMM_ROWS = 8


def rows_stable_mm(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``a @ b`` whose rows do not depend on how many rows ``a`` has (pads tiny ``a``)."""
    m = a.shape[0]
    if m >= MIN_GEMM_ROWS:
        return a @ b
    padded = torch.zeros(MIN_GEMM_ROWS, a.shape[1], dtype=a.dtype, device=a.device)
    padded[:m] = a
    return (padded @ b)[:m]


OBS_KEYS = (
    "candidate_ids",
    "candidate_embeddings",
    "candidate_categories",
    "candidate_popularity",
    "history_ids",
    "history_responses",
    "history_mask",
    "profile_embedding",
    "step",
)


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
        self.model = config.user_model
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
        self.basis = principal_basis(self.embeddings, ex.rank) if ex.enabled else None
        self.centroids = category_centroids(self.embeddings, self.category_ids, self.num_categories)
        k = config.slate_size
        self.position_effect = position_effect(k, self.model.choice, dev)
        self.examination = examination(k, self.model.choice, dev)
        self.state: UserState | None = None
        self.world: WorldState | None = None
        self._sim_buffer: torch.Tensor | None = None
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
                # Unknown domain (custom catalog) or persona module unavailable: users are
                # mixtures of category centroids instead of persona texts.
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

    def reset(self, seed: int) -> None:
        """All slots get generation-0 users; global step 0."""
        b, d, h = self.num_users, self.dim, self.config.history_length
        dev = self.device
        f32 = dict(dtype=torch.float32, device=dev)
        zeros = torch.zeros(b, **f32)
        self.state = UserState(
            # At least MIN_GEMM_ROWS rows: MKL takes another code path for tiny matrices, which
            # would make B = 1 round differently from B = 64 (see rows_stable_mm).
            us=torch.zeros(max(2 * b, MIN_GEMM_ROWS), d, **f32),
            initial_interest=torch.zeros(b, d, **f32),
            profile=torch.zeros(b, self.agent_dim, **f32),
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
            keys=rng.user_keys(seed, torch.arange(b, device=dev), torch.zeros(b, dtype=torch.int64)),
            history_ids=torch.full((b, h), -1, dtype=torch.int64, device=dev),
            history_responses=torch.zeros(b, h, 2, **f32),
            done=torch.zeros(b, dtype=torch.bool, device=dev),
        )
        self.world = WorldState(
            seed=int(seed), global_step=0, pool_ids=torch.empty(0), pool_embeddings=torch.empty(0),
            interest_sim=torch.empty(0), boredom=torch.empty(0), utilities=torch.empty(0),
        )
        self._sim_buffer = torch.empty(self.state.us.shape[0], self.config.num_candidates, **f32)
        self._init_rows(torch.arange(b, device=dev))
        self._draw_pool()
        self._refresh()

    def _init_rows(self, rows: torch.Tensor) -> None:
        """Fresh users in slots ``rows`` (keys already set). Exposed tensors are replaced."""
        s, b = self.state, self.num_users
        new = draw_new_users(self.world.seed, s.keys[rows], self.pool_interests, self.model)
        s.us[rows] = new.interest
        s.us[rows + b] = 0.0
        s.initial_interest[rows] = new.interest
        s.persona[rows] = new.persona
        profile = s.profile.clone()
        profile[rows] = self.pool_profiles[new.persona]
        s.profile = profile
        s.beta[rows] = new.beta
        s.drift_rate[rows] = new.drift_rate
        s.boredom_weight[rows] = new.boredom_weight
        s.no_click_utility[rows] = new.no_click_utility
        s.price_sensitivity[rows] = new.price_sensitivity
        budget = s.budget.clone()
        budget[rows] = new.budget
        s.budget = budget
        satisfaction = s.satisfaction.clone()
        satisfaction[rows] = 0.0
        s.satisfaction = satisfaction
        steps = s.steps.clone()
        steps[rows] = 0
        s.steps = steps
        hist = s.history_ids.clone()
        hist[rows] = -1
        s.history_ids = hist
        resp = s.history_responses.clone()
        resp[rows] = 0.0
        s.history_responses = resp
        done = s.done.clone()
        done[rows] = False
        s.done = done

    def replace_users(self, rows: torch.Tensor, *, refresh: bool = False) -> None:
        """New users (next generation) in slots ``rows``; ``refresh`` recomputes the utilities of
        the current pool (needed when called outside ``step``, e.g. the single env's reset)."""
        s = self.state
        gen = s.generation.clone()
        gen[rows] += 1
        s.generation = gen
        keys = s.keys.clone()
        keys[rows] = rng.user_keys(self.world.seed, rows, gen[rows])
        s.keys = keys
        self._init_rows(rows)
        if refresh:
            self._refresh()

    # ----------------------------------------------------------------------------- world
    def _draw_pool(self) -> None:
        w = self.world
        gen = rng.generator(w.seed, rng.STREAM_POOL, w.global_step)
        m = self.embeddings.shape[0]
        ids = torch.randperm(m, generator=gen)[: self.config.num_candidates].to(self.device)
        w.pool_ids = ids
        w.pool_embeddings = self.embeddings.index_select(0, ids)
        self._pool_quality = self.quality[ids]
        self._pool_appeal = self.appeal[ids]
        self._pool_cost = self.cost[ids]
        # Exposed through observations: new arrays each step, never mutated afterwards.
        self._pool_obs = {
            "candidate_ids": ids.cpu().numpy(),
            "candidate_embeddings": self._items_agent_t.index_select(0, ids).cpu().numpy(),
            "candidate_categories": self.category_ids[ids].cpu().numpy(),
            "candidate_popularity": self.popularity[ids].cpu().numpy(),
        }

    def _refresh(self) -> None:
        """Utilities of the current pool for all users (one GEMM) and the oracle values."""
        s, w, b = self.state, self.world, self.num_users
        sat_on = self.model.satiation.enabled
        e_t = w.pool_embeddings.T
        if sat_on:
            torch.mm(s.us, e_t, out=self._sim_buffer)
            w.interest_sim = self._sim_buffer[:b]
            w.boredom = boredom_of(self._sim_buffer[b : 2 * b])
        else:
            rows = max(b, MIN_GEMM_ROWS)
            torch.mm(s.us[:rows], e_t, out=self._sim_buffer[:rows])
            w.interest_sim = self._sim_buffer[:b]
            w.boredom = torch.zeros_like(w.interest_sim)
        c = self.model.choice
        util = w.interest_sim * s.beta.unsqueeze(1)
        util.add_(self._pool_appeal, alpha=c.appeal_weight)
        if sat_on:
            util.sub_(w.boredom * s.boredom_weight.unsqueeze(1))
        w.utilities = util
        self.candidate_values = self._candidate_values()

    def _candidate_values(self) -> torch.Tensor:
        """(B, N) immediate expected reward of each candidate shown alone at position 1
        (noise-free plug-in for the completion/purchase/rating means)."""
        s, w = self.state, self.world
        c, r = self.model.choice, self.model.response
        p_click = torch.sigmoid(
            (w.utilities + self.position_effect[0] - s.no_click_utility.unsqueeze(1))
            / c.temperature
        )
        if c.model != "mnl":
            p_click = p_click * self.examination[0]
        kind, weights = self.config.reward, self.config.reward_weights
        need = {
            "engagement": kind == "engagement" or (kind == "mixed" and weights[0] != 0),
            "clicks": kind == "clicks" or (kind == "mixed" and weights[1] != 0),
            "revenue": kind == "revenue" or (kind == "mixed" and weights[2] != 0),
            "rating": kind == "rating" or (kind == "mixed" and weights[3] != 0),
        }
        q, a, cost = self._pool_quality, self._pool_appeal, self._pool_cost
        parts: dict[str, torch.Tensor] = {}
        if need["engagement"] or need["revenue"]:
            if r.purchase_enabled:
                p_buy = torch.sigmoid(
                    purchase_logit(q, w.interest_sim, cost, s.price_sensitivity.unsqueeze(1), r)
                )
                parts["engagement"] = p_click * p_buy
                parts["revenue"] = parts["engagement"] * cost
            else:
                f = torch.sigmoid(completion_logit(q, a, w.interest_sim, w.boredom, r))
                parts["engagement"] = p_click * f * cost
                parts["revenue"] = torch.zeros_like(p_click)
        if need["clicks"]:
            parts["clicks"] = p_click
        if need["rating"]:
            parts["rating"] = p_click * rating_mean(q, w.interest_sim, w.boredom, r)
        if kind != "mixed":
            return parts[kind]
        total = torch.zeros_like(p_click)
        for name, wt in zip(("engagement", "clicks", "revenue", "rating"), weights):
            if wt != 0:
                total.add_(parts[name], alpha=wt)
        return total

    # ----------------------------------------------------------------------------- step
    def step(self, slate: torch.Tensor, *, autoreset: bool = True) -> StepResult:
        """Advance every user one step with a validated (B, K) int64 slate of pool positions."""
        s, w, m = self.state, self.world, self.model
        b, k = slate.shape
        seed = w.seed
        util = w.utilities
        slate_util = util.gather(1, slate) + self.position_effect

        uni = rng.uniform(rng.mix(seed, rng.STREAM_STEP, s.keys, s.steps, device=self.device), k + 4)
        clicks, chosen = choose(slate_util, s.no_click_utility, uni[:, :k], m.choice)
        consumed = chosen >= 0
        pos = slate.gather(1, chosen.clamp_min(0).unsqueeze(1)).squeeze(1)
        item = w.pool_ids[pos]
        match = w.interest_sim.gather(1, pos.unsqueeze(1)).squeeze(1)
        bored = w.boredom.gather(1, pos.unsqueeze(1)).squeeze(1)
        q, cost = self._pool_quality[pos], self._pool_cost[pos]
        resp = respond(
            consumed, q, self._pool_appeal[pos], cost, match, bored, s.price_sensitivity,
            uni[:, k : k + 3], m.response,
        )
        n_clicks = clicks.sum(dim=1).to(torch.float32)
        reward = self._reward(resp.engagement, n_clicks, resp.revenue, resp.rating)

        # Dynamics: only the consumed embedding (B, d) is gathered.
        interest, satiation = s.interest, s.satiation
        e = w.pool_embeddings.index_select(0, pos)
        update_satiation(satiation, e, consumed, m.satiation)
        moved = False
        if m.drift.enabled:
            apply_drift(interest, e, drift_strength(resp.rating, consumed, s.drift_rate, m.drift))
            moved = True
        ex = m.exogenous
        if ex.enabled and (ex.walk_std > 0 or ex.trend_strength > 0):
            normals = None
            if ex.walk_std > 0:
                key = rng.mix(seed, rng.STREAM_EXOGENOUS, s.keys, s.steps, device=self.device)
                normals = rng.normal(key, self.basis.shape[0])
            trend = None
            if ex.trend_strength > 0:
                cat = trending_category(seed, w.global_step, self.num_categories, ex.trend_period)
                trend = self.centroids[cat]
            apply_exogenous(interest, normals, self.basis, trend, ex)
            moved = True
        if moved:
            normalise_(interest)

        budget = update_budget(s.budget, cost, resp.completion, q, consumed, m.budget)
        satisfaction = update_satisfaction(s.satisfaction, resp.rating, consumed, m.budget)
        terminated = churn(budget, satisfaction, uni[:, k + 3], m.budget)
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

        best = util.max(dim=1).values + self.position_effect[0]
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
            "regret": best - slate_util.max(dim=1).values,
            "drift": (interest * s.initial_interest).sum(dim=1),
            "boredom": torch.where(consumed, bored, w.boredom.gather(1, slate[:, :1]).squeeze(1)),
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
        info["candidate_utilities"] = w.utilities
        info["candidate_values"] = self.candidate_values
        return StepResult(reward, terminated, truncated, info, final_rows, final_obs)

    def _reward(
        self, engagement: torch.Tensor, clicks: torch.Tensor, revenue: torch.Tensor,
        rating: torch.Tensor,
    ) -> torch.Tensor:
        kind = self.config.reward
        if kind == "engagement":
            return engagement
        if kind == "clicks":
            return clicks
        if kind == "revenue":
            return revenue
        if kind == "rating":
            return rating
        we, wc, wr, wt = self.config.reward_weights
        return we * engagement + wc * clicks + wr * revenue + wt * rating

    # ----------------------------------------------------------------------------- observe
    def observation(self, rows: torch.Tensor | None = None) -> dict[str, np.ndarray]:
        """Batched observation dict (numpy). Candidate arrays are broadcast views of the pool
        (read-only, no copy); ``rows`` selects users (copies), None = all users (views)."""
        s = self.state
        hist = s.history_ids if rows is None else s.history_ids[rows]
        n = hist.shape[0]
        pick = (lambda x: x) if rows is None else (lambda x: x[rows])
        out: dict[str, np.ndarray] = {}
        for key, arr in self._pool_obs.items():
            out[key] = np.broadcast_to(arr, (n, *arr.shape))
        out["history_ids"] = hist.cpu().numpy()
        out["history_responses"] = pick(s.history_responses).cpu().numpy()
        out["history_mask"] = (hist >= 0).to(torch.int8).cpu().numpy()
        out["profile_embedding"] = (s.profile.clone() if rows is None else s.profile[rows]).cpu().numpy()
        out["step"] = pick(s.steps).unsqueeze(1).cpu().numpy()
        return out
