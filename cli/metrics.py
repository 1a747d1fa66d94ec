"""Every benchmark metric in one place, each with its formula.

The runner feeds one :class:`EpisodeAccumulator` per (scenario, agent, seed) episode, step by step,
with the vector env's batched values; :meth:`EpisodeAccumulator.finish` turns them into the flat
metric dict stored in ``results.json`` and the per-step curves drawn by the plots. The pure
functions below are the formulas themselves, on plain arrays, so they can be checked on hand
examples (``tests/cli/test_metrics.py``) and reused by other benchmarks.

Who is measured. An episode tracks the *cohort*: the B users present at reset, each from arrival
until they leave (churn or the scenario's session limit) or the horizon T ends. The vector env
replaces a departing user at once (autoreset); the newcomer is still served — the agent keeps
acting and learning on that slot — but is not measured, so an agent that drives users away is not
credited with their replacements. ``docs/metrics.md`` restates the formulas for readers.

Notation: B users b, horizon T steps t, slate of K items, catalog of M items with unit embeddings
``e_j`` in category ``c(j)`` (C categories), ``a_{b,t}`` = 1 while user b is still in the session
at step t, ``u_{b,t}`` the user's true (hidden) interest vector after step t, ``u_{b,0}`` at reset.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

# Two-sided 95% Student-t critical values t_{0.975, df} for df = 1..30; beyond that we interpolate
# linearly in 1/df toward the normal 1.959964 (error < 1e-3). A table keeps scipy out of the
# dependency list for one number.
_T975 = (
    12.706205, 4.302653, 3.182446, 2.776445, 2.570582, 2.446912, 2.364624, 2.306004, 2.262157,
    2.228139, 2.200985, 2.178813, 2.160369, 2.144787, 2.131450, 2.119905, 2.109816, 2.100922,
    2.093024, 2.085963, 2.079614, 2.073873, 2.068658, 2.063899, 2.059539, 2.055529, 2.051831,
    2.048407, 2.045230, 2.042272,
)
_Z975 = 1.959964

#: Temperature of the softmax that turns an interest vector into a distribution over categories
#: (see :func:`interest_category_distribution`). Cosines between a user and the category centroids
#: of a sentence-embedding space differ by a few tenths; 0.05 makes a 0.1 gap a factor e^2 ≈ 7.4.
ENTROPY_TEMPERATURE = 0.05


def t_critical(df: int) -> float:
    """Two-sided 95% Student-t critical value for ``df`` degrees of freedom (``df >= 1``)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, got {df}")
    if df <= len(_T975):
        return _T975[df - 1]
    last = len(_T975)
    weight = last / df  # 1 at df=30, → 0 as df → ∞ (linear in 1/df)
    return _Z975 + (_T975[-1] - _Z975) * weight


def mean_ci(values: np.ndarray | list[float]) -> tuple[float, float]:
    """Mean and half-width of its 95% confidence interval.

    ``mean ± t_{0.975, n-1} · s / sqrt(n)`` with ``s`` the sample standard deviation (ddof=1).
    The half-width is 0 for a single value (no spread to estimate) and both are NaN for none.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    n = x.size
    if n == 0:
        return math.nan, math.nan
    mean = float(x.mean())
    if n == 1:
        return mean, 0.0
    return mean, float(t_critical(n - 1) * x.std(ddof=1) / math.sqrt(n))


def slate_click_through(clicks: np.ndarray) -> np.ndarray:
    """Per-slate click indicator: 1 if any item of the slate was clicked.

    ``clicks`` is bool ``(..., K)``. CTR is the mean of this over shown slates — a slate-level
    rate, comparable across choice models (a multinomial logit user clicks at most once per slate,
    an independent-click user may click several).
    """
    return np.asarray(clicks, dtype=bool).any(axis=-1).astype(np.float64)


def intra_list_diversity(slate_embeddings: np.ndarray) -> np.ndarray:
    """``1 − mean_{i<k} cos(e_i, e_k)`` over the K(K−1)/2 pairs of each slate.

    ``slate_embeddings`` is ``(..., K, d)``; returns ``(...)``. Rows are normalised here, so it is
    the cosine even for non-unit inputs. 0 for K identical items, 1 for mutually orthogonal ones.
    A slate of one item has no pairs: diversity 0.
    """
    e = np.asarray(slate_embeddings)
    if not np.issubdtype(e.dtype, np.floating):
        e = e.astype(np.float64)
    k = e.shape[-2]
    if k < 2:
        return np.zeros(e.shape[:-2])
    # Computed in the input's precision (float32 catalogs: half the memory traffic per step).
    e = e / np.maximum(np.sqrt(np.einsum("...d,...d->...", e, e))[..., None], 1e-12)
    s = e.sum(axis=-2)
    # Σ_{i≠k} cos = ||Σ e||² − Σ ||e||² = ||Σ e||² − K for unit rows: O(K d) instead of O(K² d).
    pair_sum = (np.einsum("...d,...d->...", s, s).astype(np.float64) - k) / 2.0
    return 1.0 - pair_sum / (k * (k - 1) / 2.0)


def catalog_coverage(shown_item_ids: np.ndarray, num_items: int) -> float:
    """Fraction of the catalog recommended at least once: ``|∪ slates| / M``."""
    ids = np.asarray(shown_item_ids).ravel()
    ids = ids[ids >= 0]
    return float(np.unique(ids).size / num_items)


def novelty(popularity: np.ndarray) -> np.ndarray:
    """Self-information of recommended items, ``−log p_j`` with ``p_j`` in (0, 1] the popularity.

    Element-wise; the metric is its mean over every recommended item. Popular items score near 0,
    rare ones high. Popularity is floored at 1e-12 to keep the log finite.
    """
    p = np.asarray(popularity, dtype=np.float64)
    return -np.log(np.clip(p, 1e-12, None))


def _unit(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def interest_drift(interest_end: np.ndarray, interest_start: np.ndarray) -> np.ndarray:
    """``1 − cos(u_T, u_0)`` per user: 0 for no change, 1 for orthogonal, 2 for reversed."""
    return 1.0 - np.sum(_unit(interest_end) * _unit(interest_start), axis=-1)


def category_centroids(embeddings: np.ndarray, category_ids: np.ndarray,
                       num_categories: int) -> np.ndarray:
    """Unit mean embedding of each category's items, ``(C, d)``; a category with no items is 0."""
    e = np.asarray(embeddings, dtype=np.float64)
    sums = np.zeros((num_categories, e.shape[1]))
    np.add.at(sums, np.asarray(category_ids, dtype=np.int64), e)
    norms = np.linalg.norm(sums, axis=1, keepdims=True)
    return np.where(norms > 0, sums / np.maximum(norms, 1e-12), 0.0)


def interest_category_distribution(interest: np.ndarray, centroids: np.ndarray,
                                   temperature: float = ENTROPY_TEMPERATURE) -> np.ndarray:
    """``p_c(u) = softmax_c(cos(u, μ_c) / τ)``: how a user's interest spreads over categories.

    ``interest`` ``(B, d)``, ``centroids`` ``(C, d)`` → ``(B, C)``, rows summing to 1.
    """
    logits = _unit(interest) @ _unit(centroids).T / temperature
    logits -= logits.max(axis=-1, keepdims=True)
    p = np.exp(logits)
    return p / p.sum(axis=-1, keepdims=True)


def interest_entropy(interest: np.ndarray, centroids: np.ndarray,
                     temperature: float = ENTROPY_TEMPERATURE) -> np.ndarray:
    """Normalised entropy ``−Σ_c p_c log p_c / log C`` of :func:`interest_category_distribution`.

    Per user, in [0, 1]: 1 = interest spread evenly over all C categories, 0 = locked onto one.
    A falling value over a session is the filter bubble closing.
    """
    p = interest_category_distribution(interest, centroids, temperature)
    c = p.shape[-1]
    if c < 2:
        return np.zeros(p.shape[:-1])
    h = -np.sum(np.where(p > 0, p * np.log(np.clip(p, 1e-300, None)), 0.0), axis=-1)
    return h / math.log(c)


def homogenisation(interest: np.ndarray) -> float:
    """Mean pairwise cosine of the users' interests, ``(2 / (n(n−1))) Σ_{i<j} cos(u_i, u_j)``.

    Compared at the start and end of a session: a rise means the recommender pulled different
    users toward the same content. NaN for fewer than two users.
    """
    u = _unit(interest)
    n = u.shape[0]
    if n < 2:
        return math.nan
    s = u.sum(axis=0)
    return float((s @ s - n) / (n * (n - 1)))


def regret(best_utility: np.ndarray, slate_utilities: np.ndarray) -> np.ndarray:
    """``max_j v_j − max_k v_{slate_k}``: utility lost to the best candidate not being shown.

    The env reports its own ``info["regret"]``; this is the same definition for analysis code that
    only has utilities. 0 when the slate contains the best candidate.
    """
    return np.asarray(best_utility, dtype=np.float64) - np.asarray(
        slate_utilities, dtype=np.float64).max(axis=-1)


def _masked_mean(values: np.ndarray, mask: np.ndarray) -> float:
    n = int(mask.sum())
    return float(np.asarray(values, dtype=np.float64)[mask].mean()) if n else math.nan


@dataclass
class EpisodeAccumulator:
    """Collects one episode's batched step values and reduces them to metrics and curves.

    Create with the cohort's true interests at reset, call :meth:`record` after every env step,
    then :meth:`finish`. Memory is O(B·d + T) apart from the coverage set: no per-step history of
    interests is kept (trajectories for plots are the runner's business).
    """

    initial_interest: np.ndarray  # (B, d)
    centroids: np.ndarray  # (C, d)
    num_items: int
    active: np.ndarray = field(init=False)  # (B,) bool: still in the session
    returns: np.ndarray = field(init=False)  # (B,)
    lengths: np.ndarray = field(init=False)  # (B,) steps in the session
    churned: np.ndarray = field(init=False)  # (B,) left by churn (not by the session limit)
    last_interest: np.ndarray = field(init=False)  # (B, d) at the user's last measured step
    last_drift: np.ndarray = field(init=False)  # (B,) 1 − cos(u_t, u_0) at that step
    curves: dict[str, list[float]] = field(init=False)
    _sums: dict[str, float] = field(init=False)
    _counts: dict[str, int] = field(init=False)
    _shown: set[int] = field(init=False)
    steps: int = field(init=False, default=0)

    def __post_init__(self) -> None:
        self.initial_interest = np.asarray(self.initial_interest, dtype=np.float64)
        b = self.initial_interest.shape[0]
        self.active = np.ones(b, dtype=bool)
        self.returns = np.zeros(b)
        self.lengths = np.zeros(b, dtype=np.int64)
        self.churned = np.zeros(b, dtype=bool)
        self.last_interest = self.initial_interest.copy()
        self.last_drift = np.zeros(b)
        self.curves = {name: [] for name in
                       ("reward", "ctr", "engagement", "diversity", "drift", "retention")}
        self._sums = {}
        self._counts = {}
        self._shown = set()

    def _add(self, name: str, values: np.ndarray, mask: np.ndarray) -> float:
        self._sums[name] = self._sums.get(name, 0.0) + float(np.asarray(values)[mask].sum())
        self._counts[name] = self._counts.get(name, 0) + int(mask.sum())
        return _masked_mean(values, mask)

    def record(self, *, reward: np.ndarray, clicks: np.ndarray, engagement: np.ndarray,
               regret: np.ndarray, slate_item_ids: np.ndarray, slate_embeddings: np.ndarray,
               slate_popularity: np.ndarray, interest: np.ndarray, done: np.ndarray,
               churned: np.ndarray, drift_cos: np.ndarray | None = None) -> None:
        """Ingest one step. Shapes: ``(B,)`` except ``clicks``/``slate_item_ids``/
        ``slate_popularity`` ``(B, K)``, ``slate_embeddings`` ``(B, K, d)``, ``interest`` ``(B, d)``
        (the true interest after the step, before any autoreset replaced a departing user).
        ``drift_cos`` = ``cos(u_t, u_0)`` when the env reports it (exact even for users it has
        already replaced); otherwise it is computed from ``interest``.
        """
        m = self.active
        reward = np.asarray(reward, dtype=np.float64)
        self.returns[m] += reward[m]
        self.lengths[m] += 1
        self._shown.update(np.asarray(slate_item_ids)[m].ravel().tolist())
        self.curves["reward"].append(float(np.where(m, reward, 0.0).mean()))
        self.curves["ctr"].append(self._add("ctr", slate_click_through(clicks), m))
        self.curves["engagement"].append(self._add("engagement", engagement, m))
        self._add("regret", regret, m)
        self.curves["diversity"].append(
            self._add("diversity", intra_list_diversity(slate_embeddings), m))
        self._add("novelty", novelty(slate_popularity).mean(axis=-1), m)
        interest = np.asarray(interest, dtype=np.float64)
        self.last_interest[m] = interest[m]
        drift = (interest_drift(interest, self.initial_interest) if drift_cos is None
                 else 1.0 - np.asarray(drift_cos, dtype=np.float64))
        self.last_drift[m] = drift[m]
        self.curves["drift"].append(_masked_mean(drift, m))
        leaving = m & np.asarray(done, dtype=bool)
        self.churned |= leaving & np.asarray(churned, dtype=bool)
        self.active = m & ~leaving
        self.curves["retention"].append(float(self.active.mean()))
        self.steps += 1

    def pad_to(self, steps: int) -> None:
        """Extend the curves to ``steps`` after everyone left: no reward, nobody retained, the
        per-active-user curves undefined (NaN)."""
        for name, curve in self.curves.items():
            fill = 0.0 if name in ("reward", "retention") else math.nan
            curve.extend([fill] * (steps - len(curve)))

    def mean(self, name: str) -> float:
        n = self._counts.get(name, 0)
        return self._sums[name] / n if n else math.nan

    def finish(self) -> dict[str, float]:
        """The episode's metrics (one number each; see the module docstring for who counts)."""
        ret_mean, ret_ci = mean_ci(self.returns)
        h0 = interest_entropy(self.initial_interest, self.centroids)
        h1 = interest_entropy(self.last_interest, self.centroids)
        hom0 = homogenisation(self.initial_interest)
        hom1 = homogenisation(self.last_interest)
        return {
            "return_mean": ret_mean,
            "return_ci95": ret_ci,
            "ctr": self.mean("ctr"),
            "engagement": self.mean("engagement"),
            "regret": self.mean("regret"),
            "diversity": self.mean("diversity"),
            "coverage": len(self._shown) / self.num_items,
            "novelty": self.mean("novelty"),
            "interest_drift": float(self.last_drift.mean()),
            "interest_entropy_start": float(h0.mean()),
            "interest_entropy_end": float(h1.mean()),
            "homogenisation_start": hom0,
            "homogenisation_end": hom1,
            "homogenisation_delta": hom1 - hom0,
            "session_length": float(self.lengths.mean()),
            "churn_rate": float(self.churned.mean()),
        }


#: Metrics in the order of the printed/Markdown table, with a short column header.
TABLE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("return_mean", "return"),
    ("ctr", "CTR"),
    ("engagement", "engage"),
    ("regret", "regret"),
    ("diversity", "ILD"),
    ("coverage", "cover"),
    ("novelty", "novelty"),
    ("interest_drift", "drift"),
    ("interest_entropy_end", "entropy"),
    ("homogenisation_delta", "Δhomog"),
    ("session_length", "session"),
    ("churn_rate", "churn"),
)

#: Every metric an episode reports (the keys of :meth:`EpisodeAccumulator.finish`).
METRIC_NAMES: tuple[str, ...] = (
    "return_mean", "return_ci95", "ctr", "engagement", "regret", "diversity", "coverage",
    "novelty", "interest_drift", "interest_entropy_start", "interest_entropy_end",
    "homogenisation_start", "homogenisation_end", "homogenisation_delta", "session_length",
    "churn_rate",
)


def aggregate_returns(per_seed_user_returns: list[np.ndarray]) -> tuple[float, float]:
    """Return mean and 95% CI pooled over users *and* seeds: every (seed, user) is one sample."""
    if not per_seed_user_returns:
        return math.nan, math.nan
    return mean_ci(np.concatenate([np.asarray(r, dtype=np.float64).ravel()
                                   for r in per_seed_user_returns]))
