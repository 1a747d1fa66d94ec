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

import numpy as np
from driftrec.envs.candidate_features import (  # the env's Rank ids build rows from them too
    history_embedding,
    log_feedback,
    masked_max,
    user_features,
)
from driftrec.envs.candidate_features import normalise as _normalise

from .base import EnvSpec, Obs

__all__ = ["Projection", "UserItemFeatures", "batch_dot", "history_embedding", "log_feedback",
           "masked_max", "user_features"]


def batch_dot(user: np.ndarray, cand: np.ndarray) -> np.ndarray:
    """<user_b, cand_bn> for user (B, d), cand (B, N, d) → (B, N), through BLAS matmul."""
    return np.matmul(cand, user[:, :, None].astype(cand.dtype, copy=False))[..., 0]


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
