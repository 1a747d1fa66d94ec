"""The fast path: the user model compiled into a few numba kernels over an explicit state, for one
user and small batches (``backend="fast"`` and ``"fast-blas"`` of ``DriftRecEnv`` /
``DriftRecVectorEnv``).

Why it exists: the batched torch engine (``envs/model/engine.py``) pays hundreds of small tensor
operations per call whatever B, so one user stepped through ``gym.make`` was an order of
magnitude slower than other simulators. Here an env step is one compiled call: per user, the same
scalar code reads the interest ``u`` and satiation ``s`` rows, scores today's N candidates (dot
products against the catalog rows, no gathered copy), picks, responds and updates the state in
place; then the world draws the next pool, users who left are replaced and everyone is scored.

Three paths, chosen by the env's ``backend`` argument, never by B: ``"fast"`` scores each user by
its own dot products, read in place from the catalog (cheapest for one user, whatever N);
``"fast-blas"`` gathers today's candidate rows once and scores users four at a time by a BLAS
product, and draws the walk of sixteen users by one more (numba's own loops use 256-bit vectors
on AVX-512 machines, OpenBLAS uses 512: from 8–16 users on this wins); ``"fast-gram"`` keeps
each user's scores against the whole catalog, E u and E s (M numbers each), up to date by the
same linear updates as u and s (a consumed item adds a row of E Eᵀ, the walk r rows of
U_r Eᵀ, ...), so a pool's utilities are N reads: O(M r) a step instead of O(N d), cheaper once N
exceeds about M / 40 (one user at N = 1,000 of M = 1,800); the catalog's (M, M) Gram matrix
bounds it to M ≤ 8,192. Each is bit-identical whatever B (``fast-blas``: a fixed product shape,
zero rows padding the last block, a user always at the same row); they differ from each other in
the last float32 bits (``fast-gram``'s kept scores stay within ~1e-7 of the products,
``test_fast_gram_catalog_scores_stay_equal_to_the_products_over_thousands_of_steps``).

Why numba and not numpy: a numpy step over the same explicit arrays is still a hundred array
calls, each with a fixed dispatch cost that dominates at B = 1, and its product would need a
fixed, padded row count to round the same for every B (``gemm.py``). The measurements, the
routes not taken and the JIT's cost are in ``docs/performance.md`` ("Single-user and small-batch
path"). The JIT's cache lives in the driftrec cache dir, never beside the sources.

What it shares with the engine, exactly: the counter-based streams (``rng.py``: the same hash,
so the same uniforms bit for bit), the candidate pools (torch's ``randperm`` under the same
seeded Mersenne Twister, reproduced here), the trending topic, user keys and persona draws, the
catalog tables and bases the engine builds. What differs: the state is the true ``u`` (unit,
renormalised every step it moves) and ``s``, stored in float32, the scalars are float64 and the
normals come from a float64 inverse error function; so numbers agree with the engine and the
reference step to ~1e-5 relative, and a discrete outcome (choice, rounded rating, purchase,
churn) differs only where a uniform falls that close to its threshold
(``tests/envs/model/test_fast_path.py``). A user's trajectory is bit-identical whatever B: every user
runs the same compiled code on its own rows.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from dataclasses import replace as dc_replace
from typing import Any

import numpy as np
import torch

from .. import rng
from ..interface import OBS_KEYS
from .engine import Engine, StepResult
from .exogenous import trending_category as trending_category_of

BACKENDS = ("fast", "fast-blas", "fast-gram", "torch")
# The largest catalog ``backend="fast-gram"`` accepts: its (M, M) float32 Gram matrix is
# 4 M² bytes (256 MiB at this bound), built once per engine.
GRAM_MAX_ITEMS = 8192
# Users per BLAS product on ``backend="fast-blas"`` (``fast_kernels.score_blas``): 8 rows (u and
# s of 4 users) is where OpenBLAS's product is cheapest per row at N = 100 (docs/performance.md).
BLAS_USERS = 4

# Columns of the per-user float64 table ``fvec`` (B, F_COLS).
F_BETA, F_DRIFT, F_BORED, F_NOCLICK, F_PRICE, F_BUDGET, F_SATISF = range(7)
F_COLS = 7
# Columns of the per-user int64 table ``ivec`` (B, I_COLS).
I_KEY, I_STEPS, I_GEN, I_PERSONA, I_DONE = range(5)
I_COLS = 5
# Columns of the float64 step outputs ``out`` (B, O_COLS).
(O_REWARD, O_TERM, O_TRUNC, O_CHOSEN, O_ITEM, O_ENGAGE, O_COMPLETE, O_RATING, O_PURCHASED,
 O_REVENUE, O_BEST, O_REGRET, O_DRIFT, O_BOREDOM, O_BUDGET, O_SATISF) = range(16)  # fmt: skip
O_COLS = 16
# Scalar parameters, packed into one float64 vector ``par`` (fewer kernel arguments).
_PARAMS = (
    "choice_model", "temperature", "appeal_weight", "drift_on", "drift_neutral", "sat_on",
    "sat_decay", "sat_rate", "walk_on", "walk_std", "trend_on", "trend_strength",
    "c_bias", "c_appeal", "c_quality", "c_match", "c_boredom", "c_noise",
    "r_bias", "r_quality", "r_match", "r_boredom", "r_noise",
    "p_on", "p_bias", "p_quality", "p_match", "price_ref",
    "b_on", "b_step_cost", "b_spend", "b_refill", "b_threshold", "b_max",
    "h_on", "h_rate", "h_threshold", "h_slope", "smoothing",
    "reward_kind", "w_engage", "w_clicks", "w_revenue", "w_rating", "max_steps",
    "het_on", "noise_scale", "no_click_mean", "no_click_std",
    "s_beta", "s_drift", "s_bored", "s_price", "s_budget",
    "v_beta", "v_drift", "v_bored", "v_price", "v_budget",
)  # fmt: skip
P = {name: i for i, name in enumerate(_PARAMS)}
CHOICE_MODELS = ("mnl", "cascade", "independent")
REWARDS = ("engagement", "clicks", "revenue", "rating", "mixed")


def check_backend(backend: Any) -> str:
    """``backend`` if it names a path; a ValueError naming the value and the choices otherwise
    (raised before anything is built)."""
    if not isinstance(backend, str) or backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
    return backend


def pack_params(engine: Engine) -> np.ndarray:
    """The scenario's scalars in the kernels' layout (``P``)."""
    cfg, m = engine.config, engine.model
    c, dr, sa, ex, re, bu, he = (m.choice, m.drift, m.satiation, m.exogenous, m.response,
                                 m.budget, m.heterogeneity)  # fmt: skip
    on = 1.0 if he.enabled else 0.0
    values = {
        "choice_model": CHOICE_MODELS.index(c.model), "temperature": c.temperature,
        "appeal_weight": c.appeal_weight, "drift_on": dr.enabled, "drift_neutral": dr.neutral_rating,
        "sat_on": sa.enabled, "sat_decay": sa.decay, "sat_rate": sa.rate,
        "walk_on": engine.rank > 0, "walk_std": ex.walk_std, "trend_on": engine.trend,
        "trend_strength": ex.trend_strength,
        "c_bias": re.completion_bias, "c_appeal": re.completion_appeal,
        "c_quality": re.completion_quality, "c_match": re.completion_match,
        "c_boredom": re.completion_boredom, "c_noise": re.completion_noise,
        "r_bias": re.rating_bias, "r_quality": re.rating_quality, "r_match": re.rating_match,
        "r_boredom": re.rating_boredom, "r_noise": re.rating_noise,
        "p_on": re.purchase_enabled, "p_bias": re.purchase_bias, "p_quality": re.purchase_quality,
        "p_match": re.purchase_match, "price_ref": re.price_reference,
        "b_on": bu.enabled, "b_step_cost": bu.step_cost, "b_spend": bu.spend_rate,
        "b_refill": bu.refill_rate, "b_threshold": bu.refill_threshold, "b_max": bu.max_budget,
        "h_on": bu.hazard_enabled, "h_rate": bu.hazard_rate, "h_threshold": bu.hazard_threshold,
        "h_slope": bu.hazard_slope, "smoothing": bu.satisfaction_smoothing,
        "reward_kind": REWARDS.index(cfg.reward), "max_steps": cfg.max_steps,
        "het_on": on, "noise_scale": he.interest_noise if he.enabled else 0.0,
        "no_click_mean": c.no_click_utility, "no_click_std": on * he.no_click_std,
        "s_beta": on * he.interest_spread, "s_drift": on * he.drift_spread,
        "s_bored": on * he.boredom_spread, "s_price": on * he.price_spread,
        "s_budget": on * he.budget_spread,
        "v_beta": c.interest_weight, "v_drift": dr.rate, "v_bored": sa.boredom_weight,
        "v_price": re.price_sensitivity, "v_budget": bu.initial,
    }  # fmt: skip
    for name, w in zip(("w_engage", "w_clicks", "w_revenue", "w_rating"), cfg.reward_weights):
        values[name] = w
    out = np.zeros(len(_PARAMS), dtype=np.float64)
    for name, value in values.items():
        out[P[name]] = float(value)
    # The engine computes the lognormal spreads in float32 (users.draw_new_users).
    for name in ("s_beta", "s_drift", "s_bored", "s_price", "s_budget",
                 "v_beta", "v_drift", "v_bored", "v_price", "v_budget"):  # fmt: skip
        out[P[name]] = float(np.float32(out[P[name]]))
    return out


@functools.cache
def kernels() -> Any:
    """The compiled kernels (``fast_kernels``), JIT-compiled on first use and cached on disk under
    ``$DRIFTREC_CACHE_DIR/numba`` (default ``~/.cache/driftrec/numba``): compiled once per machine
    and source version, loaded from there afterwards (``docs/performance.md``)."""
    from . import fast_kernels  # decorated with its cache dir (``fast_kernels.jit``)

    return fast_kernels


def _view(x: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``x``'s memory (it follows the kernels' in-place updates)."""
    return torch.from_numpy(x)


@dataclass
class FastState:
    """Torch views of the fast path's arrays, under the names of ``state.UserState`` (what the
    renderer, benchmarks and tests read); they follow every step, as the kernels write in place."""

    interest: torch.Tensor  # (B, d) unit u
    satiation: torch.Tensor  # (B, d) s
    initial_interest: torch.Tensor  # (B, d) u_0
    persona: torch.Tensor
    keys: torch.Tensor
    steps: torch.Tensor
    generation: torch.Tensor
    done: torch.Tensor
    beta: torch.Tensor
    drift_rate: torch.Tensor
    boredom_weight: torch.Tensor
    no_click_utility: torch.Tensor
    price_sensitivity: torch.Tensor
    budget: torch.Tensor
    satisfaction: torch.Tensor
    history_ids: torch.Tensor
    history_responses: torch.Tensor

    @property
    def num_users(self) -> int:
        return int(self.steps.shape[0])


@dataclass
class FastWorld:
    """What the batch shares (``state.WorldState``'s public part)."""

    seed: int
    global_step: int
    pool_ids: torch.Tensor  # (N,) view, rewritten in place each step
    utilities: torch.Tensor  # (B, N) view
    trend_category: int


class FastEngine(Engine):
    """The user model as numba kernels over an explicit state (``u``, ``s`` as (B, d) arrays, the
    pool's utilities computed directly each step, or on ``backend="fast-gram"`` read from the
    users' catalog scores kept beside them); the same constructor, catalog tables, bases and
    public methods as ``Engine``, plus ``step_arrays`` / ``observation_one`` / ``info_one`` that
    the envs call to stay in numpy."""

    def __init__(
        self, catalog: Any, config: Any, num_users: int, *, backend: str = "fast", **kwargs: Any
    ) -> None:
        if check_backend(backend) == "torch":
            raise ValueError("FastEngine runs backend 'fast', 'fast-blas' or 'fast-gram', got "
                             "'torch'; build the torch engine (Engine) for that")  # fmt: skip
        if torch.device(config.device).type != "cpu":
            raise ValueError(
                f"backend='fast' runs on the CPU, got device={config.device!r}; use "
                "backend='torch' (the batched engine) to simulate on a GPU"
            )
        super().__init__(catalog, config, num_users, **kwargs)
        kernels()  # compile (or load) now, not at the first step
        f32 = np.float32
        self._emb = np.ascontiguousarray(self.embeddings.cpu().numpy(), dtype=f32)
        self._items = np.stack(
            [t.cpu().numpy().astype(np.float64) for t in (self.quality, self.appeal, self.cost)],
            axis=1,
        )
        self._category_np = self.category_ids.cpu().numpy()
        self._popularity_np = self.popularity.cpu().numpy()
        self._pool_interests = np.ascontiguousarray(self.pool_interests.cpu().numpy(), dtype=f32)
        self._profiles = np.ascontiguousarray(self.pool_profiles.cpu().numpy(), dtype=f32)
        self._noise_basis = np.ascontiguousarray(self.noise_basis.cpu().numpy(), dtype=f32)
        d = self.dim
        walk = self.basis.cpu().numpy() if self.basis is not None else np.zeros((0, d), f32)
        self._walk_basis = np.ascontiguousarray(walk, dtype=f32)
        self._centroids = np.ascontiguousarray(self.centroids.cpu().numpy(), dtype=f32)
        self._pos = self.position_effect.cpu().numpy().astype(np.float64)
        self._exam = self.examination.cpu().numpy().astype(np.float64)
        self._par = pack_params(self)
        k = self.config.slate_size
        draws = max(k + 4 + self.rank, self._noise_basis.shape[0] + 8)
        self._index_hash = rng._index_hash(draws, torch.device("cpu")).cpu().numpy()
        self._arrays: dict[str, np.ndarray] = {}
        self.backend = backend
        self._blas_users = BLAS_USERS if backend == "fast-blas" else 0
        self._gram_tables = self._build_gram_tables() if backend == "fast-gram" else _NO_GRAM
        self.observe_candidate_embeddings = True  # set by the envs' option of that name

    @property
    def kernels(self) -> Any:
        """The compiled kernels (a property: a module cannot be pickled with the engine)."""
        return kernels()

    def _build_gram_tables(self) -> tuple[np.ndarray, ...]:
        """``backend="fast-gram"``'s tables: every direction u and s move along, as its scores
        against the whole catalog E (M, d). u and s are linear in these directions between
        renormalisations, so keeping E u and E s (M numbers each) up to date costs O(M r) a step
        instead of the pool's O(N d) dot products: E Eᵀ (a consumed item), walk basis · Eᵀ,
        centroids · Eᵀ (the trend), personas · Eᵀ and noise basis · Eᵀ (an arrival's E u_0)."""
        m = self._emb.shape[0]
        if m > GRAM_MAX_ITEMS:
            raise ValueError(
                f"backend='fast-gram' keeps the catalog's (M, M) Gram matrix and accepts at most "
                f"{GRAM_MAX_ITEMS} items, got a catalog of M={m} ({4 * m * m / 2**20:.0f} MiB); "
                "use backend='fast' (its cost does not grow with M)"
            )
        emb64 = self._emb.astype(np.float64)

        def scores(rows: np.ndarray) -> np.ndarray:  # float32: half the bytes an update reads
            return np.ascontiguousarray(rows.astype(np.float64) @ emb64.T, dtype=np.float32)

        gram = np.empty((m, m), np.float32)
        for i in range(0, m, 1024):  # float64 products in blocks: transient memory 8 MiB·M/1024
            gram[i : i + 1024] = emb64[i : i + 1024] @ emb64.T
        return (gram, scores(self._walk_basis), scores(self._centroids),
                scores(self._pool_interests), scores(self._noise_basis))  # fmt: skip

    def __getstate__(self) -> dict[str, Any]:
        """For pickle and deepcopy: the tensor views are rebuilt over the copied arrays."""
        state = self.__dict__.copy()
        state["state"] = None
        world = state["world"]
        if world is not None:
            state["world"] = (world.seed, world.global_step, world.trend_category)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        if self.world is not None:
            seed, step, trend = self.world
            self._build_views(seed, step, trend)

    def _build_views(self, seed: int, global_step: int, trend_category: int) -> None:
        fv, iv = self._fvec, self._ivec
        self.state = FastState(
            interest=_view(self._u), satiation=_view(self._s), initial_interest=_view(self._u0),
            persona=_view(iv[:, I_PERSONA]), keys=_view(iv[:, I_KEY]),
            steps=_view(iv[:, I_STEPS]), generation=_view(iv[:, I_GEN]),
            done=_view(iv[:, I_DONE]), beta=_view(fv[:, F_BETA]),
            drift_rate=_view(fv[:, F_DRIFT]), boredom_weight=_view(fv[:, F_BORED]),
            no_click_utility=_view(fv[:, F_NOCLICK]), price_sensitivity=_view(fv[:, F_PRICE]),
            budget=_view(fv[:, F_BUDGET]), satisfaction=_view(fv[:, F_SATISF]),
            history_ids=_view(self._hist_ids), history_responses=_view(self._hist_resp),
        )  # fmt: skip
        self.world = FastWorld(
            int(seed), global_step, _view(self._ids), _view(self._util), trend_category
        )

    # ------------------------------------------------------------------------- state
    def reset(self, seed: int) -> None:
        """All slots get generation-0 users; global step 0 (as ``Engine.reset``)."""
        keys = rng.seed_keys(seed)
        b, d, n = self.num_users, self.dim, self.config.num_candidates
        k, h = self.config.slate_size, self.config.history_length
        self.seed_keys = keys
        self._prefix_step = rng.mix_int(keys.draws, rng.STREAM_STEP)
        self._prefix_init = rng.mix_int(keys.draws, rng.STREAM_INIT)
        self._prefix_user = rng.mix_int(keys.users, rng.STREAM_USER_KEY)
        self._prefix_pool = rng.mix_int(keys.world, rng.STREAM_POOL)
        f32 = np.float32
        self._ivec = np.zeros((b, I_COLS), dtype=np.int64)
        self._fvec = np.zeros((b, F_COLS), dtype=np.float64)
        self._u, self._s, self._u0 = (np.zeros((b, d), f32) for _ in range(3))
        self._su, self._ss, self._util = (np.zeros((b, n), f32) for _ in range(3))
        self._hist_ids = np.full((b, h), -1, dtype=np.int64)
        self._hist_resp = np.zeros((b, h, 2), dtype=f32)
        self._out = np.zeros((b, O_COLS), dtype=np.float64)
        self._clicks = np.zeros((b, k), dtype=np.bool_)
        self._slate_util = np.zeros((b, k), dtype=f32)
        self._ids = np.zeros(n, dtype=np.int64)
        self._scratch = np.arange(self.embeddings.shape[0], dtype=np.int64)
        self._swaps = np.zeros(n, dtype=np.int64)
        self._fin_rows = np.zeros(b, dtype=np.int64)
        self._fin_ints = np.zeros((b, h + 2), dtype=np.int64)
        self._fin_resp = np.zeros((b, h, 2), dtype=f32)
        r = self._blas_users
        self._blas_rows = np.zeros((2 * r, d), f32)
        self._blas_pool = np.zeros((n if r else 0, d), f32)
        self._blas_prod = np.zeros((2 * r, n if r else 0), f32)
        m = self._gram_tables[0].shape[1]  # catalog scores E u, E s (fast-gram; else none)
        self._cu, self._cs = np.zeros((b, m)), np.zeros((b, m))
        # ``step_all``'s arguments after the step's own four: one tuple instead of 48 attribute
        # reads a step (pickle and deepcopy keep its arrays the attributes' own objects).
        self._step_args = (
            self._prefix_step, self._prefix_user, self._prefix_init, self._index_hash, self._emb,
            self._items, self._pool_interests, self._noise_basis, self._walk_basis,
            self._centroids, self._pos, self._exam, self._par, self._ids, self._scratch,
            self._swaps, self._ivec, self._fvec, self._u, self._s, self._u0, self._su, self._ss,
            self._util, self._hist_ids, self._hist_resp, self._out, self._clicks,
            self._slate_util, self._fin_rows, self._fin_ints, self._fin_resp, self._blas_rows,
            self._blas_pool, self._blas_prod, *self._gram_tables, self._cu, self._cs,
        )  # fmt: skip
        self._build_views(seed, 0, -1)
        self._arrive(np.arange(b, dtype=np.int64))
        self._draw_pool()
        self._score()

    def _arrive(self, rows: np.ndarray) -> None:
        self.kernels.arrive(
            rows, self._prefix_user, self._prefix_init, self._index_hash, self._pool_interests,
            self._noise_basis, self._par, self._ivec, self._fvec, self._u, self._s, self._u0,
            self._hist_ids, self._hist_resp, *self._gram_tables[3:], self._cu, self._cs,
        )  # fmt: skip

    def replace_users(self, rows: Any, *, refresh: bool = False, incremental: bool = False) -> None:
        """New users (next generation) in slots ``rows``; ``refresh``: score them now (outside a
        step). ``incremental`` is the torch engine's and means nothing here."""
        rows = np.asarray(rows.cpu() if isinstance(rows, torch.Tensor) else rows, dtype=np.int64)
        rows = rows.reshape(-1)
        self._ivec[rows, I_GEN] += 1
        self._arrive(rows)
        if refresh:
            self._score()

    def user_done(self, row: int) -> bool:
        """Whether the user in slot ``row`` left (single env, no autoreset) and awaits reset."""
        return bool(self._ivec[row, I_DONE])

    def user_steps(self, row: int) -> int:
        """Steps since the user in slot ``row`` arrived."""
        return int(self._ivec[row, I_STEPS])

    def _pool_seed(self, step: int) -> int:
        """The seed of the pool of global step ``step`` (``rng.generator``'s, as the engine's)."""
        if step <= rng.MASK32:  # one limb: fold it onto the precomputed prefix
            return rng.hash32_int(self._prefix_pool ^ step)
        return rng.mix_int(self.seed_keys.world, rng.STREAM_POOL, step)

    def _trend_of(self, step: int) -> int:
        if not self.trend:
            return -1
        period = self.model.exogenous.trend_period
        return trending_category_of(self.seed_keys.world, step, self.num_categories, period)

    def _draw_pool(self) -> None:
        """Today's N candidates: torch's ``randperm`` under the seeded generator, reproduced
        (``fast_kernels.randperm_prefix``), and the trending topic."""
        w = self.world
        self.kernels.randperm_prefix(self._pool_seed(w.global_step), self._scratch.shape[0],
                                     self._ids, self._scratch, self._swaps)  # fmt: skip
        w.trend_category = self._trend_of(w.global_step)
        self._expose_pool()

    def _expose_pool(self) -> None:
        """The candidate arrays of observations: new arrays every step (Gymnasium requires that
        observations of different calls share no memory). The (N, d_a) embedding copy is the
        costliest of them at large N, so it is made only while ``observe_candidate_embeddings``
        (the envs' option of that name: agents can look the ids up in ``item_embeddings``)."""
        ids = self._ids
        pool = {"candidate_ids": ids.copy()}
        if self.observe_candidate_embeddings:
            pool["candidate_embeddings"] = self.item_embeddings.take(ids, axis=0)
        pool["candidate_categories"] = self._category_np.take(ids)
        pool["candidate_popularity"] = self._popularity_np.take(ids)
        self._pool_obs = pool

    def _score(self) -> None:
        self.kernels.score_any(self._ids, self._emb, self._items, self._par, self._fvec, self._u,
                               self._s, self._su, self._ss, self._util, self._blas_rows,
                               self._blas_pool, self._blas_prod, self._cu, self._cs)  # fmt: skip

    # ------------------------------------------------------------------------- step
    def step_arrays(self, slate: np.ndarray, *, autoreset: bool = True) -> tuple[Any, ...]:
        """Advance every user with a validated (B, K) int64 slate (one kernel call). Returns the
        (B, O_COLS) float64 outputs (columns ``O_*``; the engine's own array, overwritten by the
        next step), the slots whose users left and were replaced (None if none or not
        ``autoreset``) and those users' last observations (a list of dicts, one per slot)."""
        w = self.world
        nxt = w.global_step + 1
        n_fin = self.kernels.step_all(slate, autoreset, self._pool_seed(nxt), w.trend_category,
                                      *self._step_args)  # fmt: skip
        w.global_step = nxt
        w.trend_category = self._trend_of(nxt)
        self._expose_pool()
        if not n_fin:
            return self._out, None, None
        h = self._hist_ids.shape[1]
        ints = self._fin_ints[:n_fin]
        hist = ints[:, :h].copy()
        resp = self._fin_resp[:n_fin].copy()
        mask = (hist >= 0).astype(np.int8)
        profile = self._profiles.take(ints[:, h], axis=0)
        step = ints[:, h + 1 : h + 2].copy()
        # One dict per departing user (what the vector env's info carries), the keys in
        # OBS_KEYS order; the candidate arrays are today's, shared as the observation's views are.
        final_obs = [
            {**self._pool_obs, "history_ids": hist[j], "history_responses": resp[j],
             "history_mask": mask[j], "profile_embedding": profile[j], "step": step[j]}
            for j in range(n_fin)
        ]  # fmt: skip
        return self._out, self._fin_rows[:n_fin].copy(), final_obs

    def step(self, slate: Any, *, autoreset: bool = True) -> StepResult:
        """``Engine.step``'s interface (torch tensors in and out) over ``step_arrays``."""
        slate_np = np.ascontiguousarray(
            slate.cpu().numpy() if isinstance(slate, torch.Tensor) else slate, dtype=np.int64
        )
        out, rows, final_obs = self.step_arrays(slate_np, autoreset=autoreset)
        return self.as_step_result(out, rows, final_obs, self.info_arrays())

    @staticmethod
    def as_step_result(
        out: np.ndarray, rows: np.ndarray | None, final_obs: Any, info: dict[str, np.ndarray]
    ) -> StepResult:
        """``step_arrays``' outputs as the engine's ``StepResult`` (tensors sharing memory; the
        departing users' observations batched, as the torch engine gives them)."""
        if final_obs is not None:
            final_obs = {k: np.stack([obs[k] for obs in final_obs]) for k in final_obs[0]}
        return StepResult(
            reward=torch.from_numpy(out[:, O_REWARD].astype(np.float32)),
            terminated=torch.from_numpy(out[:, O_TERM] > 0),
            truncated=torch.from_numpy(out[:, O_TRUNC] > 0),
            info={k: torch.from_numpy(v) for k, v in info.items()},
            final_rows=None if rows is None else torch.from_numpy(rows),
            final_obs=final_obs,
        )

    # ------------------------------------------------------------------------- outputs
    def info_arrays(self) -> dict[str, np.ndarray]:
        """The last step's info as (B, ...) numpy arrays, the engine's keys and dtypes, with the
        candidate info of the current pool."""
        o = self._out
        info = {
            "slate_utilities": self._slate_util.copy(),
            "clicks": self._clicks.copy(),
            "chosen": o[:, O_CHOSEN].astype(np.int64),
            "item": o[:, O_ITEM].astype(np.int64),
        }
        # One float32 copy, columns as contiguous rows (one conversion instead of twelve).
        columns = o.T.astype(np.float32)
        for key, col, dtype in _INFO_COLUMNS:
            info[key] = columns[col] if dtype is np.float32 else columns[col] > 0
        info.update(self.candidate_info_arrays())
        return info

    def info_one(self) -> dict[str, Any]:
        """``info_arrays()`` of user 0 as the single env reports it (numpy scalars)."""
        o = self._out[0]
        o32 = o.astype(np.float32)  # its items are the engine's float32 scalars
        span = list(o32[O_ENGAGE : O_SATISF + 1])  # engagement ... satisfaction, in info order
        span[O_PURCHASED - O_ENGAGE] = o32[O_PURCHASED] > 0
        info: dict[str, Any] = {
            "slate_utilities": self._slate_util[0].copy(),
            "clicks": self._clicks[0].copy(),
            "chosen": np.int64(o[O_CHOSEN]),
            "item": np.int64(o[O_ITEM]),
        }
        info.update(zip(_SPAN_KEYS, span))
        info["churned"] = o32[O_TERM] > 0
        info["candidate_utilities"] = self._util[0].copy()
        if self.config.oracle_info:
            info["candidate_values"] = self._candidate_values()[0]
        return info

    def candidate_info_arrays(self) -> dict[str, np.ndarray]:
        info = {"candidate_utilities": self._util.copy()}
        if self.config.oracle_info:
            info["candidate_values"] = self._candidate_values()
        return info

    def candidate_info(self) -> dict[str, torch.Tensor]:
        return {k: torch.from_numpy(v) for k, v in self.candidate_info_arrays().items()}

    def enable_oracle_info(self) -> None:
        """Report ``info["candidate_values"]`` from now on (``ScenarioConfig.oracle_info``)."""
        if not self.config.oracle_info:
            self.config = dc_replace(self.config, oracle_info=True)

    def _candidate_values(self) -> np.ndarray:
        """(B, N) float32 immediate expected reward of each candidate alone at position 1
        (``Engine._candidate_values``, the same plug-in formula)."""
        m, cfg = self.model, self.config
        c, r = m.choice, m.response
        fv = self._fvec
        q, a, cost = (self._items[self._ids, i][None, :] for i in range(3))
        shift = fv[:, F_NOCLICK] - self._pos[0]
        p_click = _sigmoid((self._util - shift[:, None]) / c.temperature)
        if c.model != "mnl" and self._exam[0] != 1.0:
            p_click = p_click * self._exam[0]
        match = self._su.astype(np.float64)
        bored = np.maximum(self._ss, 0.0) if m.satiation.enabled else np.zeros_like(match)
        if r.purchase_enabled:
            logit = (
                r.purchase_bias
                + r.purchase_quality * q
                + r.purchase_match * match
                - fv[:, F_PRICE][:, None] * np.log(np.maximum(cost, 1e-6) / r.price_reference)
            )
            engagement = _sigmoid(logit) * p_click
            revenue = engagement * cost
        else:
            logit = (
                r.completion_bias
                + r.completion_appeal * a
                + r.completion_quality * q
                + r.completion_match * match
                - r.completion_boredom * bored
            )
            engagement = _sigmoid(logit) * p_click * cost
            revenue = np.zeros_like(p_click)
        rating = 1.0 + 4.0 * _sigmoid(
            r.rating_bias + r.rating_quality * q + r.rating_match * match - r.rating_boredom * bored
        )
        parts = {"engagement": engagement, "clicks": p_click, "revenue": revenue,
                 "rating": p_click * rating}  # fmt: skip
        if cfg.reward != "mixed":
            return parts[cfg.reward].astype(np.float32)
        total = sum(w * parts[k] for k, w in zip(REWARDS[:4], cfg.reward_weights))
        return np.asarray(total, dtype=np.float32)

    def observation(self, rows: Any = None) -> dict[str, np.ndarray]:
        """Batched observation dict, the engine's keys, dtypes and conventions (candidate arrays
        are read-only broadcast views of today's pool; the rest new arrays)."""
        if isinstance(rows, torch.Tensor):
            rows = rows.cpu().numpy()
        idx = slice(None) if rows is None else rows
        hist = self._hist_ids[idx].copy()
        out = {key: _repeat_view(arr, hist.shape[0]) for key, arr in self._pool_obs.items()}
        out["history_ids"] = hist
        out["history_responses"] = self._hist_resp[idx].copy()
        out["history_mask"] = (hist >= 0).astype(np.int8)
        out["profile_embedding"] = self._profiles.take(self._ivec[idx, I_PERSONA], axis=0)
        out["step"] = self._ivec[idx, I_STEPS][:, None].copy()
        return {key: out[key] for key in OBS_KEYS if key in out}

    def observation_one(self) -> dict[str, np.ndarray]:
        """User 0's observation as the single env returns it (no batch axis)."""
        hist = self._hist_ids[0].copy()
        return {
            **self._pool_obs,
            "history_ids": hist,
            "history_responses": self._hist_resp[0].copy(),
            "history_mask": (hist >= 0).astype(np.int8),
            "profile_embedding": self._profiles[self._ivec[0, I_PERSONA]].copy(),
            "step": self._ivec[0, I_STEPS : I_STEPS + 1].copy(),
        }

    def slate_ok(self, action: Any, num_users: int | None = None) -> bool:
        """Whether ``action`` is a C-contiguous int64 array of K distinct candidate positions,
        (K,) (``num_users`` None) or one row per user (B, K): then it is used as it is; anything
        else goes through ``validate_slate``, which converts or raises (so every bad input gets
        the same error on every path)."""
        k, n = self.config.slate_size, self.config.num_candidates
        shape = (k,) if num_users is None else (num_users, k)
        if not (type(action) is np.ndarray and action.dtype == np.int64
                and action.shape == shape and action.flags.c_contiguous):  # fmt: skip
            return False
        if num_users is None:
            return self.kernels.slate_ok(action, n)
        return self.kernels.slates_ok(action, n)

    def similarity_operands(self) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError("the fast path scores candidates in its kernels, not by a GEMM")


# The Gram tables of the paths that keep none: (0, 0) each, so the kernels see no columns.
_NO_GRAM = tuple(np.zeros((0, 0), np.float32) for _ in range(5))

# (info key, column of the step outputs, dtype) of the float and bool info entries.
_INFO_COLUMNS = (
    ("engagement", O_ENGAGE, np.float32), ("completion", O_COMPLETE, np.float32),
    ("rating", O_RATING, np.float32), ("purchased", O_PURCHASED, np.bool_),
    ("revenue", O_REVENUE, np.float32), ("best_utility", O_BEST, np.float32),
    ("regret", O_REGRET, np.float32), ("drift", O_DRIFT, np.float32),
    ("boredom", O_BOREDOM, np.float32), ("budget", O_BUDGET, np.float32),
    ("satisfaction", O_SATISF, np.float32), ("churned", O_TERM, np.bool_),
)  # fmt: skip


# The info keys of the output columns O_ENGAGE ... O_SATISF (contiguous, in the engine's order).
_SPAN_KEYS = tuple(key for key, col, _ in _INFO_COLUMNS if O_ENGAGE <= col <= O_SATISF)
assert [col for key, col, _ in _INFO_COLUMNS if key in _SPAN_KEYS] == list(
    range(O_ENGAGE, O_SATISF + 1)
)


def _repeat_view(arr: np.ndarray, n: int) -> np.ndarray:
    """``np.broadcast_to(arr, (n, *arr.shape))`` for a contiguous ``arr``: the same read-only
    view, built directly (a third of ``broadcast_to``'s cost, paid for every candidate key of
    every batched observation)."""
    view = np.ndarray((n, *arr.shape), arr.dtype, buffer=arr, strides=(0, *arr.strides))
    view.flags.writeable = False
    return view


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
