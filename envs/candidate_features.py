"""Per-candidate feature rows from what a recommender can see: the observation and the feedback.

The Rank ids (``driftrec/VideoRank-v0`` ...) observe one compact row per candidate instead of the
raw N×d_a embeddings, and the agents (``driftrec.agents.features``/``itemwise``) build their rows
from the same pure functions, which live here because envs must not import agents
(encoders ← envs ← agents ← benchmarks).

Rows of ``CandidateTable``, each column in [-1, 1] (f = 14):

=====================  ==========================================================================
column                 meaning
=====================  ==========================================================================
``sim_history``        cos(candidate, decayed engagement-weighted mean of the history; the
                       profile when there is no history)
``sim_profile``        cos(candidate, public profile embedding)
``sim_recent``         max cos(candidate, last 3 consumed items) — satiation of a region; 0 if none
``popularity``         the public popularity prior
``category_share``     decayed share of the user's history in the candidate's category
``shown_recent``       times the candidate was in this user's last ``window`` slates, / window
``consumed_recent``    times the candidate is in the user's history, / H
``item_rating``        logged shrunk mean rating of the item minus the global mean, / 4
``item_take``          logged shrunk take rate t of the item against the global rate t̄:
                       (t − t̄) / (t + t̄), 0 at the global rate
``log_step``           log(1 + step) / log(1 + max_steps)
``recent_completion``  mean completion of the last 5 consumed items
``recent_rating``      mean rating / 5 of the last 5 consumed items
``history_fill``       share of the H history slots filled
``consumed_last``      1 if the last step added a consumption
=====================  ==========================================================================

The last five are the user's session, the same for every candidate. ``item_rating`` and
``item_take`` come from ``ItemStats``, the per-item log of impressions, consumptions and ratings
(``log_feedback``): item quality is not in the text, and in ``video`` it decides whether a watch
refills the user's session budget — a measured item-wise actor without these two columns stayed
at random level (issue 24's measured-prototypes note).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

Obs = dict[str, np.ndarray]

#: Column names of ``CandidateTable`` rows, in order.
FEATURE_COLUMNS: tuple[str, ...] = (
    "sim_history", "sim_profile", "sim_recent", "popularity", "category_share", "shown_recent",
    "consumed_recent", "item_rating", "item_take", "log_step", "recent_completion",
    "recent_rating", "history_fill", "consumed_last",
)


def normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Rows scaled to unit norm (zero rows stay zero), float32."""
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-8)).astype(np.float32)


def history_embedding(
    obs: Obs,
    table: np.ndarray,
    decay: float = 0.8,
    response_weight: float = 0.0,
    profile_fallback: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Decayed mean of the history's item embeddings, unit norm: returns ((B, d), has_history (B,)).

    ``response_weight`` > 0 weights each item by ``1 + response_weight * engagement`` — items the
    user engaged with say more about their interest than items they abandoned.
    """
    ids = obs["history_ids"]
    mask = obs["history_mask"].astype(np.float32) * (ids >= 0)
    emb = table[np.maximum(ids, 0)]  # (B, H, d); padding reads row 0, weighted 0
    ages = np.arange(ids.shape[1], dtype=np.float32)
    weights = mask * (decay**ages)[None, :]
    if response_weight:
        weights = weights * (1.0 + response_weight * obs["history_responses"][..., 0])
    user = np.matmul(weights[:, None, :].astype(np.float32), emb)[:, 0]
    has = mask.sum(axis=1) > 0
    if profile_fallback:
        user = np.where(has[:, None], user, obs["profile_embedding"])
    return normalise(user), has


def masked_max(values: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Max of ``values`` over the last axis where ``mask`` (broadcast) holds; 0 where none does."""
    masked = np.where(mask, values, -np.inf)
    best = masked.max(axis=-1) if masked.shape[-1] else np.zeros(masked.shape[:-1], np.float32)
    return np.where(np.isfinite(best), best, 0.0).astype(np.float32)


def user_features(obs: Obs, recent: int = 5) -> np.ndarray:
    """Public signals of the user's state (B, 5): time in session, recent engagement and rating,
    history fill, whether the last step added a consumption (recency of satisfaction)."""
    mask = obs["history_mask"][:, :recent].astype(np.float32)
    resp = obs["history_responses"][:, :recent].astype(np.float32)
    count = np.maximum(mask.sum(axis=1), 1.0)
    eng = (resp[..., 0] * mask).sum(axis=1) / count
    rating = (resp[..., 1] * mask).sum(axis=1) / count
    step = obs["step"].reshape(-1).astype(np.float32)
    fill = obs["history_mask"].astype(np.float32).mean(axis=1)
    return np.stack([np.log1p(step) / 4.0, eng, rating, fill, mask[:, 0]], axis=1)


def count_in(ids: np.ndarray, pool: np.ndarray) -> np.ndarray:
    """How often each of ``ids`` (B, N) occurs in ``pool`` (B, P) (−1 entries never match)."""
    return (ids[:, :, None] == pool[:, None, :]).sum(axis=2).astype(np.float32)


def category_share(obs: Obs, category_ids: np.ndarray, num_categories: int,
                   decay: float = 0.8) -> np.ndarray:
    """Decayed share (B, N) of the user's history in each candidate's category; 0 if none.
    ``category_ids`` (M,) is the public category of each catalog item."""
    hist = obs["history_ids"]
    batch = len(hist)
    mask = (obs["history_mask"] > 0) & (hist >= 0)
    weights = mask * decay ** np.arange(hist.shape[1], dtype=np.float32)[None, :]
    # One bincount over (user, category) cells instead of a scatter-add per user.
    cells = category_ids[np.maximum(hist, 0)] + num_categories * np.arange(batch)[:, None]
    share = np.bincount(cells.ravel(), weights.ravel(), minlength=batch * num_categories)
    share = share.reshape(batch, num_categories)
    share /= np.maximum(share.sum(axis=1, keepdims=True), 1e-8)
    rows = np.arange(batch)[:, None]
    return share[rows, category_ids[np.asarray(obs["candidate_ids"])]].astype(np.float32)


class ItemStats:
    """Per-item logged feedback and shrunk estimates (prior: the global means).

    What a recommender logs per catalog item — impressions, consumptions, rating sum. Item quality
    is not in the text (a linear probe of the embeddings explains ~0% of its variance in the
    built-in catalogs), so per-item feedback is the only way to learn it.
    """

    def __init__(self, num_items: int, prior_count: float = 2.0):
        self.shown = np.zeros(num_items)
        self.consumed = np.zeros(num_items)
        self.rating_sum = np.zeros(num_items)
        self.prior_count = prior_count

    def observe(self, shown_ids: np.ndarray, consumed_ids: np.ndarray, ratings: np.ndarray
                ) -> None:
        np.add.at(self.shown, shown_ids.reshape(-1), 1.0)
        np.add.at(self.consumed, consumed_ids, 1.0)
        np.add.at(self.rating_sum, consumed_ids, ratings)

    def estimates(self, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float]:
        """Shrunk mean rating and take rate per impression of ``ids`` (float64, shape of ids),
        and the global mean rating (3 before any consumption) and take rate (≥ 1e-6)."""
        c = self.prior_count
        n_c = self.consumed.sum()
        mean_rating = self.rating_sum.sum() / n_c if n_c else 3.0
        rate = max(n_c / max(self.shown.sum(), 1.0), 1e-6)
        rating = (self.rating_sum[ids] + c * mean_rating) / (self.consumed[ids] + c)
        take = (self.consumed[ids] + c * rate) / (self.shown[ids] + c)
        return rating, take, mean_rating, rate

    def features(self, ids: np.ndarray) -> np.ndarray:
        """(..., 2): shrunk mean rating minus the global mean (rating points), and the shrunk
        take rate per impression relative to the global rate minus 1 — centred, O(1) scale, so
        gradient learners pick them up as fast as the linear bandits do."""
        rating, take, mean_rating, rate = self.estimates(ids)
        return np.stack([rating - mean_rating, take / rate - 1.0], axis=-1).astype(np.float32)

    def bounded_features(self, ids: np.ndarray) -> np.ndarray:
        """(..., 2) in [-1, 1] for an observation space: (rating − mean) / 4 (ratings lie in
        [1, 5]) and (take − rate) / (take + rate), a squashed ratio that is 0 at the global rate."""
        rating, take, mean_rating, rate = self.estimates(ids)
        return np.stack([(rating - mean_rating) / 4.0, (take - rate) / (take + rate)],
                        axis=-1).astype(np.float32)

    def state(self) -> dict[str, np.ndarray]:
        return {"shown": self.shown, "consumed": self.consumed, "rating_sum": self.rating_sum}

    def load(self, state: dict[str, Any]) -> None:
        for key in ("shown", "consumed", "rating_sum"):
            setattr(self, key, np.asarray(state[key], dtype=np.float64).copy())


def log_feedback(stats: ItemStats, obs: Obs, slates: np.ndarray, info: Mapping[str, Any],
                 who: str) -> None:
    """Log one batched transition into ``stats``: the shown items, the consumed one
    (``info['chosen']`` slate position, −1 none) and its rating. ``obs`` is the observation the
    slates were chosen for; ``who`` names the caller in the error for an ``info`` without that
    feedback."""
    if "chosen" not in info or "rating" not in info:
        raise ValueError(f"{who} logs feedback from info['chosen'] and info['rating']; got "
                         f"info keys {sorted(info)}")
    chosen = np.asarray(info["chosen"], dtype=np.int64).reshape(-1)
    shown = np.take_along_axis(np.asarray(obs["candidate_ids"]), slates, axis=1)
    rows = np.flatnonzero(chosen >= 0)
    rating = np.asarray(info["rating"], dtype=np.float64).reshape(-1)
    stats.observe(shown, shown[rows, chosen[rows]], rating[rows])


class CandidateTable:
    """Builds the (B, N, f) rows of the module docstring from a batched observation, float32.

    ``item_embeddings`` (M, d_a): the agent-side table (history lookups); ``category_ids`` (M,):
    public categories; ``window``: slates remembered per user for ``shown_recent``.
    """

    recent = 3  # consumed items compared for sim_recent

    def __init__(self, item_embeddings: np.ndarray, category_ids: np.ndarray,
                 num_categories: int, max_steps: int, window: int = 5):
        self.table = np.asarray(item_embeddings, dtype=np.float32)
        self.category_ids = np.asarray(category_ids, dtype=np.int64)
        self.num_categories = int(num_categories)
        self.step_scale = 4.0 / float(np.log1p(max_steps))  # user_features' log-step is /4
        self.window = window

    @property
    def dim(self) -> int:
        return len(FEATURE_COLUMNS)

    def item_columns(self, obs: Obs, shown: np.ndarray) -> list[np.ndarray]:
        """The seven user-item columns ``sim_history`` .. ``consumed_recent``, each (B, N);
        ``shown`` (B, R, K) the item ids of each user's last R slates (−1 none)."""
        ids = np.asarray(obs["candidate_ids"])
        cand = obs.get("candidate_embeddings")  # absent: observe_candidate_embeddings=False
        cand = np.asarray(self.table[ids] if cand is None else cand, dtype=np.float32)
        user, _ = history_embedding(obs, self.table, response_weight=1.0)
        profile = normalise(obs["profile_embedding"].astype(np.float32))
        recent = obs["history_ids"][:, : self.recent]
        # One batched product for every similarity: history mean, profile, last consumed items.
        refs = np.concatenate(
            [user[:, None], profile[:, None], self.table[np.maximum(recent, 0)]], axis=1)
        sims = np.matmul(cand, refs.transpose(0, 2, 1))  # (B, N, 2 + recent)
        recent_mask = (obs["history_mask"][:, : self.recent] > 0) & (recent >= 0)
        return [
            sims[..., 0],
            sims[..., 1],
            masked_max(sims[..., 2:], recent_mask[:, None, :]),
            obs["candidate_popularity"].astype(np.float32),
            category_share(obs, self.category_ids, self.num_categories),
            count_in(ids, shown.reshape(len(ids), -1)) / shown.shape[1],
            count_in(ids, obs["history_ids"]) / obs["history_ids"].shape[1],
        ]

    def __call__(self, obs: Obs, stats: ItemStats, shown: np.ndarray) -> np.ndarray:
        ids = np.asarray(obs["candidate_ids"])
        columns = self.item_columns(obs, shown)
        session = user_features(obs)
        session[:, 0] *= self.step_scale
        out = np.empty((*ids.shape, self.dim), dtype=np.float32)
        for j, column in enumerate(columns):
            out[..., j] = column
        c = len(columns)
        out[..., c : c + 2] = stats.bounded_features(ids)
        out[..., c + 2 :] = session[:, None, :]
        # Float rounding can put a cosine of unit vectors a hair outside [-1, 1]; the space's
        # bounds must hold exactly (Gymnasium's checker tests contains()).
        return np.clip(out, -1.0, 1.0, out=out)
