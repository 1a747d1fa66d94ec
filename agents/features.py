"""Shared user/item feature construction from the public observation and the item table.

Every learner here sees the user through the same public signals (DESIGN.md §5): the recent
history of consumed items (looked up in the agent-side item table ``env.unwrapped.item_embeddings``)
with their responses, and the public profile embedding. Building them once keeps the agents
comparable — differences in results come from the learner, not from feature engineering.

- ``history_embedding``: decayed, optionally response-weighted mean of the history's item
  embeddings, ``u = normalise(sum_i w_i e_{h_i})`` with ``w_i = decay^i * mask_i`` (most recent
  first, so i is the age); users without history fall back to their profile embedding.
- ``Projection``: a fixed PCA of the item table down to ``p`` dims. Fitted on the catalog the agent
  already knows (no randomness), it keeps the directions along which items differ most, so a
  ``p``-dimensional bilinear model is cheap (LinUCB's covariance is (F, F)).
- ``UserItemFeatures.bandit``: per candidate ``[u_p * e_p, profile_p * e_p, e_p, cos(u, e),
  max_recent_cos(e), popularity, 1]``. The products make a *linear* model express user-item
  affinity; ``max_recent_cos`` (similarity to the last few consumed items) lets it learn satiation
  or repeat effects.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from .base import EnvSpec, Obs


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
    emb = table[np.clip(ids, 0, None)]  # (B, H, d)
    ages = np.arange(ids.shape[1], dtype=np.float32)
    weights = mask * (decay**ages)[None, :]
    if response_weight:
        weights = weights * (1.0 + response_weight * obs["history_responses"][..., 0])
    user = np.matmul(weights[:, None, :].astype(np.float32), emb)[:, 0]
    has = mask.sum(axis=1) > 0
    if profile_fallback:
        user = np.where(has[:, None], user, obs["profile_embedding"])
    return _normalise(user), has


def batch_dot(user: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """<user_b, cand_bn> for user (B, d), cand (B, N, d) → (B, N), through BLAS matmul."""
    return np.matmul(cand, user[:, :, None].astype(cand.dtype, copy=False))[..., 0]


def _normalise(x: np.ndarray, axis: int = -1) -> np.ndarray:
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return (x / np.maximum(norm, 1e-8)).astype(np.float32)


class Projection:
    """Fixed PCA projection (d, p) of the agent-side item table; identity when p >= d."""

    def __init__(self, table: np.ndarray, dim: int):
        d = table.shape[1]
        if dim >= d:
            self.matrix = np.eye(d, dtype=np.float32)
        else:
            centred = (table - table.mean(axis=0, keepdims=True)).astype(np.float64)
            # Principal axes = top eigenvectors of the (d, d) covariance (cheaper than an SVD of
            # the (M, d) table); each sign is fixed so the result is reproducible.
            _, vecs = np.linalg.eigh(centred.T @ centred)
            axes = vecs[:, ::-1][:, :dim].T
            signs = np.sign(axes[np.arange(dim), np.abs(axes).argmax(axis=1)])
            self.matrix = (axes * signs[:, None]).T.astype(np.float32)

    @property
    def dim(self) -> int:
        return int(self.matrix.shape[1])

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return _normalise(x @ self.matrix)


class UserItemFeatures:
    """The bandits' (and SlateQ's) per-candidate features; see the module docstring.

    Speed: the catalog is projected once (``table_p``, (M, p)); candidates and history items are
    looked up by id, so per step only (B, N, p) products and two (B, N, d) cosines are computed.
    """

    def __init__(self, spec: EnvSpec, dim: int = 16, decay: float = 0.8, recent: int = 3):
        self.table = spec.item_embeddings
        self.proj = Projection(self.table, dim)
        self.table_p = self.proj(self.table)
        self.decay = decay
        self.recent = recent

    @property
    def dim(self) -> int:
        return 3 * self.proj.dim + 4

    def user(self, obs: Obs) -> tuple[np.ndarray, np.ndarray]:
        """Full-dimensional user vector (B, d) and whether each user has history (B,)."""
        return history_embedding(obs, self.table, self.decay, response_weight=1.0)

    def bandit(self, obs: Obs) -> np.ndarray:
        """Per-candidate features, float32 (B, N, F)."""
        ids = np.asarray(obs["candidate_ids"])
        cand = self.table[ids]  # (B, N, d): the agent-side table is what the obs carries
        user, _ = self.user(obs)
        cos_user = np.matmul(cand, user[:, :, None])[..., 0]
        recent = self.recent_similarity(obs, cand)
        e_p = self.table_p[ids]
        u_p = self.proj(user)
        prof_p = self.proj(obs["profile_embedding"].astype(np.float32))
        pop = obs["candidate_popularity"].astype(np.float32)
        out = np.empty((*ids.shape, self.dim), dtype=np.float32)
        p = self.proj.dim
        np.multiply(u_p[:, None, :], e_p, out=out[..., :p])
        np.multiply(prof_p[:, None, :], e_p, out=out[..., p : 2 * p])
        out[..., 2 * p : 3 * p] = e_p
        out[..., 3 * p] = cos_user
        out[..., 3 * p + 1] = recent
        out[..., 3 * p + 2] = pop
        out[..., 3 * p + 3] = 1.0
        return out

    def recent_similarity(self, obs: Obs, cand: np.ndarray | None = None) -> np.ndarray:
        """Max cosine of each candidate to the last ``recent`` consumed items, (B, N); 0 if none."""
        if cand is None:
            cand = self.table[np.asarray(obs["candidate_ids"])]
        ids = obs["history_ids"][:, : self.recent]
        mask = (obs["history_mask"][:, : self.recent] > 0) & (ids >= 0)
        hist = self.table[np.clip(ids, 0, None)]  # (B, r, d)
        sims = np.matmul(cand, hist.transpose(0, 2, 1))  # (B, N, r)
        return masked_max(sims, mask[:, None, :])


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


def log_feedback(stats: Any, obs: Obs, slates: np.ndarray, info: Mapping[str, Any],
                 who: str) -> None:
    """Log one batched transition into ``stats`` (``returns.ItemStats``): the shown items, the
    consumed one (``info['chosen']`` slate position, −1 none) and its rating. ``who`` names the
    caller in the error for an ``info`` without that feedback."""
    if "chosen" not in info or "rating" not in info:
        raise ValueError(f"{who} logs feedback from info['chosen'] and info['rating']; got "
                         f"info keys {sorted(info)}")
    chosen = np.asarray(info["chosen"], dtype=np.int64).reshape(-1)
    shown = np.take_along_axis(np.asarray(obs["candidate_ids"]), slates, axis=1)
    rows = np.flatnonzero(chosen >= 0)
    rating = np.asarray(info["rating"], dtype=np.float64).reshape(-1)
    stats.observe(shown, shown[rows, chosen[rows]], rating[rows])
