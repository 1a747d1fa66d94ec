"""The batched user engine: B users stepped in one call, shared by the single and vector envs.

One step, for every user b at once (shapes in brackets):

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
4. users who left are replaced in place (autoreset) with a new user key; the world advances one
   global step.

A candidate pool lasts ``pool_lifetime`` global steps. While it lasts (``_pool_lasts``), every
update of step 3 is a combination of the pool's columns, so the engine applies it to ``sims``
through the columns' Gram matrix — O(B·N) per step — and records it as coefficients
(``state.pending``) instead of touching the (B, d) rows; when the pool changes, the coefficients
are applied with one product and the similarities to the new pool recomputed with another
(O(B·N·d), once per pool).

All randomness is counter-based (``rng.py``), so a user's trajectory depends only on the seed,
its slot, its generation and its actions. Validation happens at the env edge; nothing here is
mutated before the inputs have been checked.

The public methods run under ``torch.inference_mode``: nothing here is differentiated, and
skipping autograd's bookkeeping takes 10–16% off a step of 1–1024 users, whose cost is mostly
per-operation overhead (``docs/internals.md``). The state's tensors are therefore inference
tensors: to edit one in place from outside (a test, an experiment), do it inside
``torch.inference_mode()``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch

from . import rng
from .agent_view import build_agent_view
from .budget import churn, update_budget, update_satisfaction
from .choice import choose, examination, position_effect
from .config import ScenarioConfig
from .drift import drift_strength
from .exogenous import category_centroids, principal_basis, trending_category
from .gemm import MIN_GEMM_ROWS, rows_stable_mm, similarity_product
from .response import completion_logit, purchase_logit, rating_mean, respond
from .state import UserState, WorldState
from .users import UserPool, draw_new_users, persona_pool, synthetic_pool

# Exact renormalisation of a user's stored interest at least every this many of its steps bounds
# the float error of the closed-form norm update: user by user on its own step count, or, when a
# pool lasts between POOL_RENORM_MIN_LIFETIME and RENORM_EVERY steps, for every drifted user at
# once when the pool ends (its rows are materialised then anyway; one pass instead of a gather
# and scatter every step).
RENORM_EVERY = 64
POOL_RENORM_MIN_LIFETIME = 8
# Rank of the subspace of initial-interest noise (users.draw_new_users).
NOISE_RANK = 32
# <e, u_0> of a consumed item comes from tables over the catalog — <persona, e> (P, M) and
# <noise basis, e> (M, NOISE_RANK) — instead of a (B, d) dot product per step, unless the persona
# table would hold more entries than this (then the dot product with the stored u_0).
MAX_PERSONA_TABLE = 1 << 24
# Satiation stored as scale · s_stored; fold the scale in before it underflows.
MIN_SATIATION_SCALE = 1e-6


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
        model = config.user_model
        if model.response.price_reference <= 0:
            median = float(np.median(np.asarray(catalog.cost, dtype=np.float64)))
            response = replace(model.response, price_reference=max(median, 1e-6))
            model = replace(model, response=response)
        self.model = model  # config.user_model with the catalog-dependent defaults resolved
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
        self.centroids = category_centroids(self.embeddings, self.category_ids, self.num_categories)
        walk = ex.enabled and ex.walk_std > 0
        # One SVD for both bases: each is the top rows of the same principal directions.
        directions = principal_basis(self.embeddings, max(NOISE_RANK, ex.rank if walk else 0))
        self.noise_basis = directions[:NOISE_RANK].contiguous()
        self.basis = directions[: ex.rank].contiguous() if walk else None
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
        n_cols = self.config.num_candidates + int(self.trend)
        self.state = UserState(
            storage=torch.zeros(n_rows, d + self.rank, **f32),
            pending=torch.zeros(n_rows, n_cols, **f32),
            columns=torch.empty(0, d, **f32),
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
            columns=torch.empty(0), product_columns=torch.empty(0), gram=torch.empty(0),
            exogenous_sims=torch.empty(0),
            trend_category=-1,
            sims=torch.empty(0), utilities=torch.empty(0),  # both set by _refresh below
        )  # fmt: skip
        # One step's exogenous increments (walk z·n, trend τ·n), padded like the walk.
        walk_rows = self.state.walk.shape[0]
        self._walk_coef = torch.zeros(walk_rows, self.rank + int(self.trend), **f32)
        # The consumed items' embeddings of a step that draws a new pool, gathered into memory
        # the process already holds: a fresh (B, d) tensor every step costs more in page faults
        # than the copy itself (measured: 2.4 ms against 0.2 ms at B=4096, d=384).
        self._consumed = torch.empty(b, d, **f32)
        # Tables of each pool for incremental steps (``_lasting`` only; filled by _refresh): the
        # personas' and the noise basis' <., columns> for arriving users.
        self._persona_sims = torch.empty(0, n_cols, **f32)
        self._noise_sims = torch.empty(0, n_cols, **f32)
        self._arange = torch.arange(b, device=dev)
        self._init_rows(self._arange, incremental=False)
        self._draw_pool()
        self._refresh()

    @property
    def _lasting(self) -> bool:
        """Whether a pool can last more than one step (then similarities update incrementally)."""
        return self.config.pool_lifetime > 1

    def _init_rows(self, rows: torch.Tensor, *, incremental: bool) -> None:
        """Fresh users in slots ``rows`` (keys already set). Exposed tensors are replaced.
        ``incremental``: the current pool continues, so their similarities are set here;
        otherwise the next full product computes them."""
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
        s.pending.index_fill_(0, rows, 0.0)
        s.pending.index_fill_(0, rows + b, 0.0)
        s.walk.index_fill_(0, rows, 0.0)
        if incremental:
            # <u, columns> from the personas' and the noise basis' inner products with the
            # pool's columns (tables of _refresh): (n, k)·(k, C) instead of (n, d)·(d, C).
            new_sims = self._persona_sims.index_select(0, new.persona)
            if new.noise is not None:
                new_sims.add_(rows_stable_mm(new.noise, self._noise_sims))
            new_sims.div_(new.norm)
            sims = self.world.sims
            sims.index_copy_(0, rows, new_sims)
            sims.index_fill_(0, rows + b, 0.0)
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
    def replace_users(
        self, rows: torch.Tensor, *, refresh: bool = False, incremental: bool = False
    ) -> None:
        """New users (next generation) in slots ``rows``. ``refresh``: called outside ``step``
        (e.g. the single env's reset), bring the similarities up to date now; ``incremental``:
        called inside a step whose pool continues (see ``_init_rows``)."""
        s = self.state
        gen = s.generation.clone()
        gen[rows] += 1
        s.generation = gen
        keys = s.keys.clone()
        keys[rows] = rng.user_keys(self.seed_keys.users, rows, gen[rows])
        s.keys = keys
        if refresh:
            # A pool that continues takes the same arrival path as inside an incremental step,
            # so a user's numbers do not depend on whether it arrived in a step or at a reset.
            incremental = self._pool_lasts(self.world.global_step)
        self._init_rows(rows, incremental=incremental)
        if refresh and incremental:
            self._utilities()
        elif refresh:
            self._refresh()

    # ----------------------------------------------------------------------------- world
    def _pool_lasts(self, global_step: int) -> bool:
        """Whether the GEMM columns at ``global_step`` are those of ``global_step - 1``: same
        candidate pool (``pool_lifetime``) and same trending topic (a function of the seed and
        the step, not of the state, so it can be asked before or after the world advanced)."""
        if global_step % self.config.pool_lifetime == 0:
            return False
        if not self.trend:
            return True
        seed, period = self.seed_keys.world, self.model.exogenous.trend_period
        return trending_category(
            seed, global_step, self.num_categories, period
        ) == trending_category(seed, global_step - 1, self.num_categories, period)

    def _draw_pool(self) -> None:
        """The N candidates of the current pool epoch (hash of seed and global step //
        ``pool_lifetime``), the GEMM columns and their Gram matrix."""
        w = self.world
        epoch = w.global_step // self.config.pool_lifetime
        gen = rng.generator(self.seed_keys.world, rng.STREAM_POOL, epoch)
        m = self.embeddings.shape[0]
        ids = torch.randperm(m, generator=gen)[: self.config.num_candidates].to(self.device)
        w.pool_ids = ids
        parts = [self.embeddings.index_select(0, ids)]
        directions = [self.basis] if self.basis is not None else []
        w.trend_category = -1
        if self.trend:
            ex = self.model.exogenous
            w.trend_category = trending_category(
                self.seed_keys.world, w.global_step, self.num_categories, ex.trend_period
            )
            parts.append(self.centroids[w.trend_category].unsqueeze(0))
            directions.append(parts[-1])
        w.columns = torch.cat(parts) if len(parts) > 1 else parts[0]
        # <[U_r; c_trend], columns>: how the walk and the trend move the similarities.
        if directions:
            w.exogenous_sims = torch.cat(directions) @ w.columns.T
        else:
            w.exogenous_sims = torch.empty(0, device=self.device)
        # The product's right operand: [columns | <columns, U_r>] against [rows | walk].
        w.product_columns = (
            torch.cat([w.columns, w.exogenous_sims[: self.rank].T], dim=1)
            if self.rank
            else w.columns
        )
        # Only a pool that lasts updates similarities incrementally (through the Gram matrix).
        w.gram = w.columns @ w.columns.T if self._lasting else torch.empty(0, device=self.device)
        self._pool_quality = self.quality[ids]
        self._pool_appeal = self.appeal[ids]
        self._pool_appeal_term = self._pool_appeal * self.model.choice.appeal_weight
        self._pool_cost = self.cost[ids]
        self._expose_pool()

    def _expose_pool(self) -> None:
        """The candidate arrays of observations: new arrays every step (Gymnasium requires that
        observations of different calls share no memory), never mutated afterwards."""
        ids = self.world.pool_ids
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

    def _flush(self) -> None:
        """Apply the coefficients accumulated while the pool lasted to the rows (one GEMM)."""
        s = self.state
        if s.columns.numel():
            s.rows.addmm_(s.pending, s.columns)
            s.pending.zero_()
            s.columns = torch.empty(0, self.dim, device=self.device)

    def _refresh(self) -> None:
        """Similarities to the current pool (one GEMM), utilities and the oracle values."""
        w = self.world
        self._flush()
        # [rows | walk] @ [columns | <columns, U_r>].T: u_stored = rows + walk @ U_r included.
        w.sims = similarity_product(*self.similarity_operands())
        if self._lasting:
            self._persona_sims = rows_stable_mm(self.pool_interests, w.columns.T)
            self._noise_sims = rows_stable_mm(self.noise_basis, w.columns.T)
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
        # While the pool lasts, every similarity is updated with the same increments as the rows
        # (through the Gram matrix of the columns): O(B·N) instead of the O(B·N·d) product.
        incremental = self._pool_lasts(w.global_step + 1)
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
        reward = self._reward(resp.engagement, n_clicks, resp.revenue, resp.rating)

        # Dynamics in the stored representation (state.py): u_stored += n (a e + z U_r + τ c),
        # s_stored += rate / scale' · e; the new norm and <u, u_0> follow in closed form.
        a = drift_strength(resp.rating, consumed, s.drift_rate, m.drift)
        n = s.interest_norm
        ex = m.exogenous
        moved = consumed & (a != 0) if m.drift.enabled else torch.zeros_like(consumed)
        sq = 1.0 + a * a + 2.0 * a * match
        if incremental:
            g = w.gram.index_select(0, pos)  # (B, C) <e, columns>
            if s.columns.numel() == 0:
                s.columns = w.columns
        else:
            e = torch.index_select(w.columns, 0, pos, out=self._consumed)  # (B, d)
        e_u0 = self._item_dot_initial(item, None if incremental else e)
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
            # At least MIN_GEMM_ROWS rows (zero rows add exactly 0): B-invariant rounding.
            rows = walk.shape[0]
            if incremental:
                if self.trend:
                    s.pending[:rows, n_cand:].add_(walk[:, r:])
                w.sims[:rows].addmm_(walk, w.exogenous_sims)
            elif self.trend:
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
        if incremental:
            s.pending[: blocks * b].view(blocks, b, -1).scatter_add_(
                2, pos1.unsqueeze(0).expand(blocks, b, 1), weight
            )
            w.sims[: blocks * b].view(blocks, b, -1).addcmul_(g.unsqueeze(0), weight)
        else:
            s.rows[: blocks * b].view(blocks, b, -1).addcmul_(e.unsqueeze(0), weight)
            self._flush()  # earlier steps of this pool, before its columns go
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
        self._maintain(steps, incremental=incremental)

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
        if incremental:
            self._expose_pool()
        else:
            self._draw_pool()
        if autoreset:
            if bool(done.any()):
                final_rows = done.nonzero().squeeze(1)
                final_obs = self.observation(final_rows)
                self.replace_users(final_rows, incremental=incremental)
        else:
            s.done = done
        if incremental:
            self._utilities()
        else:
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

    def _maintain(self, steps: torch.Tensor, *, incremental: bool) -> None:
        """Exact renormalisation of drifted interests (see RENORM_EVERY), and folding of small
        satiation scales. Row-local and keyed by the global or the user's own step, so it does
        not depend on B."""
        s, b = self.state, self.num_users
        if POOL_RENORM_MIN_LIFETIME <= self.config.pool_lifetime <= RENORM_EVERY:
            if not incremental:  # the pool ends: its coefficients are in the rows already
                self._renormalise_in_place()
        else:
            due = s.dirty & (steps % RENORM_EVERY == 0)
            if bool(due.any()):
                self._renormalise_users(due.nonzero().squeeze(1), incremental=incremental)
        small = s.satiation_scale < MIN_SATIATION_SCALE
        if bool(small.any()):
            idx = small.nonzero().squeeze(1)
            factor = s.satiation_scale[idx].unsqueeze(1)
            s.rows.index_copy_(0, idx + b, s.rows.index_select(0, idx + b) * factor)
            if incremental:
                sims, pending = self.world.sims, s.pending
                sims.index_copy_(0, idx + b, sims.index_select(0, idx + b) * factor)
                pending.index_copy_(0, idx + b, pending.index_select(0, idx + b) * factor)
            s.satiation_scale.index_fill_(0, idx, 1.0)

    def _renormalise_users(self, idx: torch.Tensor, *, incremental: bool) -> None:
        """Exact renormalisation of the interests of users ``idx`` (a few per step: gathered).
        ``incremental``: the pool lasts, so their pending coefficients are applied first and
        their similarities rescaled instead of recomputed."""
        s = self.state
        u = s.rows.index_select(0, idx)
        if incremental:  # apply the pending coefficients of these rows
            u = u + rows_stable_mm(s.pending.index_select(0, idx), s.columns)
            s.pending.index_fill_(0, idx, 0.0)
        if self.rank:  # fold the walk into the rows
            u = u + rows_stable_mm(s.walk.index_select(0, idx), self.basis)
            s.walk.index_fill_(0, idx, 0.0)
        norm = torch.linalg.vector_norm(u, dim=1, keepdim=True)
        u = u / norm
        s.rows.index_copy_(0, idx, u)
        if self.rank:
            s.interest_basis.index_copy_(0, idx, rows_stable_mm(u, self.basis.T))
        if incremental:
            sims = self.world.sims
            sims.index_copy_(0, idx, sims.index_select(0, idx) / norm)
        dot = torch.linalg.vecdot(u, s.initial_interest.index_select(0, idx))
        s.interest_dot_initial.index_copy_(0, idx, dot)
        s.interest_norm.index_fill_(0, idx, 1.0)
        s.dirty.index_fill_(0, idx, False)

    def _renormalise_in_place(self) -> None:
        """Exact renormalisation of every drifted interest when a pool ends, on the rows in place.

        Nearly every user is due then, so gathering their rows into (n, d) temporaries, as the
        per-user path does, would allocate several fresh (B, d) tensors once per pool: on a
        virtual machine their page faults cost more than the arithmetic (measured at B=4096,
        d=384: about 7,000 faults per pool end; at pools of 10 steps the mean step fell from 18.3
        to 16.5 ms without them). Row-local: users that did not move are divided by exactly 1
        and keep their closed-form values.
        """
        s, b = self.state, self.num_users
        if self.rank:  # fold the walk into the rows (padded rows add exact zeros)
            s.rows[: s.walk.shape[0]].addmm_(s.walk, self.basis)
            s.walk.zero_()
        u, dirty = s.rows[:b], s.dirty
        norm = torch.where(dirty, torch.linalg.vector_norm(u, dim=1), 1.0)
        u.div_(norm.unsqueeze(1))
        if self.rank:
            s.interest_basis = torch.where(
                dirty.unsqueeze(1), rows_stable_mm(u, self.basis.T), s.interest_basis
            )
        dot = torch.bmm(u.unsqueeze(1), s.initial_interest.unsqueeze(2)).view(b)
        s.interest_dot_initial = torch.where(dirty, dot, s.interest_dot_initial)
        s.interest_norm = torch.where(dirty, 1.0, s.interest_norm)
        s.dirty = torch.zeros_like(dirty)

    def _reward(
        self,
        engagement: torch.Tensor,
        clicks: torch.Tensor,
        revenue: torch.Tensor,
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
