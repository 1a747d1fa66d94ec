"""Per-candidate feature rows for the item-wise actor: one row per candidate, (B, N, F).

An item-wise policy scores every candidate with the same small network from that candidate's
own row, so its size does not grow with N and what it learns about one item transfers to the
others. The row holds what a real recommender could know when it ranks the candidate for this
user (DESIGN.md §5 — never the hidden state):

=====================  ==========================================================================
columns                meaning
=====================  ==========================================================================
``0 .. p-1``           the candidate's agent-side embedding, PCA-projected to p dims (fixed)
``sim_history``        cos(candidate, decayed engagement-weighted mean of the history)
``sim_profile``        cos(candidate, public profile embedding)
``sim_recent``         max cos(candidate, last 3 consumed items) — satiation of a region
``popularity``         the public popularity prior
``category_share``     decayed share of the user's history in the candidate's category
``shown_recent``       times the candidate was in this user's last ``R`` slates, / R
``consumed_recent``    times the candidate is in the user's history, / H
``item_rating``        logged shrunk mean rating of the item minus the global mean
``item_take``          logged shrunk take rate of the item per impression, relative to the global
session (6)            log-step, recent completion and rating, history fill, has-history, share of
                       the last R steps without a consumption — the same for every candidate
=====================  ==========================================================================

The two logged per-item statistics (``returns.ItemStats``, updated from every transition the
agent sees) are the decisive columns: item quality is not in the text, and in ``video`` quality
decides whether a watch refills the user's session budget. A measured prototype of this actor
without them stayed at random level (docs: the measured-prototypes note of issue 24).

``SessionMemory`` keeps the few per-user facts the observation does not carry — the last R slates
shown and whether each of the last R steps ended in a consumption — per slot of the vector env.
A slot whose observation says ``step == 0`` holds a new user (autoreset), so its memory starts
empty; a consumption since the previous decision is visible as a change of the slot's history.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from driftrec.envs.candidate_features import category_share, count_in, normalise

from .base import EnvSpec, Obs
from .features import UserItemFeatures, log_feedback, masked_max, user_features
from .returns import ItemStats

#: Names of the columns after the projected embedding, in order (tests and docs read them).
ITEM_COLUMNS = ("sim_history", "sim_profile", "sim_recent", "popularity", "category_share",
                "shown_recent", "consumed_recent", "item_rating", "item_take")
SESSION_COLUMNS = ("log_step", "recent_completion", "recent_rating", "history_fill",
                   "has_history", "recent_no_click")


class SessionMemory:
    """Per-slot memory of the last ``window`` slates (item ids) and consumption outcomes.

    Arrays: ``shown`` (B, R, K) item ids (−1 empty), ``clicked`` (B, R) in {0, 1, −1 = no step},
    ``last_history`` (B, H) the history seen at the slot's previous decision.
    """

    def __init__(self, window: int):
        if window < 1:
            raise ValueError(f"memory window must be >= 1, got {window}")
        self.window = window
        self.shown = np.empty((0, window, 0), dtype=np.int64)
        self.clicked = np.empty((0, window), dtype=np.int8)
        self.last_history = np.empty((0, 0), dtype=np.int64)

    def _fit(self, batch: int, slate_size: int, history: int) -> None:
        """Empty memory for a new batch size (an agent used on another env starts afresh)."""
        if self.shown.shape != (batch, self.window, slate_size):
            self.shown = np.full((batch, self.window, slate_size), -1, dtype=np.int64)
            self.clicked = np.full((batch, self.window), -1, dtype=np.int8)
            self.last_history = np.full((batch, history), -1, dtype=np.int64)

    def view(self, obs: Obs, slate_size: int, rows: np.ndarray | None = None
             ) -> tuple[np.ndarray, np.ndarray]:
        """Memory as it stands for ``obs``, unchanged: (shown (B, R, K), share of the remembered
        steps without a consumption (B,)). Slots at step 0 (new users) read as empty; ``rows``
        are the slots of ``obs``'s users when it holds only some of them."""
        batch = obs["history_ids"].shape[0]
        slots = np.arange(batch) if rows is None else np.asarray(rows)
        if self.shown.shape[1:] != (self.window, slate_size) or (
                rows is None and len(self.shown) != batch) or (slots >= len(self.shown)).any():
            return (np.full((batch, self.window, slate_size), -1, dtype=np.int64),
                    np.zeros(batch, dtype=np.float32))
        shown, clicked = self._arrive(obs, slots)
        steps = (clicked >= 0).sum(axis=1)
        return shown, ((clicked == 0).sum(axis=1) / np.maximum(steps, 1)).astype(np.float32)

    def record(self, obs: Obs, slate_ids: np.ndarray) -> None:
        """Advance by one decision: ``slate_ids`` (B, K) catalog ids shown for ``obs``."""
        batch, k = slate_ids.shape
        self._fit(batch, k, obs["history_ids"].shape[1])
        shown, self.clicked = self._arrive(obs, np.arange(batch))
        self.shown = np.concatenate([slate_ids[:, None, :], shown[:, :-1]], axis=1)
        self.last_history = np.array(obs["history_ids"], dtype=np.int64, copy=True)

    def _arrive(self, obs: Obs, slots: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(shown, clicked) of ``slots`` once ``obs`` arrives: new users emptied, and the outcome
        of each continuing user's previous slate — a consumption iff the history changed —
        pushed in."""
        new = obs["step"].reshape(-1) == 0
        shown = self.shown[slots]
        pending = ~new & (shown[:, 0, 0] >= 0)
        consumed = (obs["history_ids"] != self.last_history[slots]).any(axis=1)
        outcome = np.where(pending, consumed, -1).astype(np.int8)
        clicked = np.concatenate([outcome[:, None], self.clicked[slots, :-1]], axis=1)
        clicked[new] = -1
        return np.where(new[:, None, None], -1, shown), clicked

    def state(self) -> dict[str, np.ndarray]:
        return {"shown": self.shown, "clicked": self.clicked, "last_history": self.last_history}

    def load(self, state: Mapping[str, Any]) -> None:
        shown = np.asarray(state["shown"], dtype=np.int64)
        if shown.ndim != 3 or shown.shape[1] != self.window:
            raise ValueError(
                f"session memory 'shown' has shape {shown.shape}; expected (B, R={self.window}, K)")
        self.shown = shown.copy()
        self.clicked = np.asarray(state["clicked"], dtype=np.int8).copy()
        self.last_history = np.asarray(state["last_history"], dtype=np.int64).copy()


class CandidateFeatures:
    """Builds the (B, N, F) rows described in the module docstring, float32.

    ``proj_dim`` p: dims of the projected embedding; ``window`` R: slates remembered per user.
    The builder holds the logged item statistics (``stats``) — agent state, saved with it.
    """

    def __init__(self, spec: EnvSpec, proj_dim: int = 8, window: int = 5):
        if proj_dim < 1:
            raise ValueError(f"proj_dim must be >= 1, got {proj_dim}")
        self.spec = spec
        self.user_item = UserItemFeatures(spec, proj_dim)
        self.stats = ItemStats(spec.num_items)
        self.window = window

    @property
    def dim(self) -> int:
        """F = p + 9 item columns + 6 session columns."""
        return self.user_item.proj.dim + len(ITEM_COLUMNS) + len(SESSION_COLUMNS)

    def __call__(self, obs: Obs, memory: SessionMemory, rows: np.ndarray | None = None
                 ) -> np.ndarray:
        """Rows for a validated, batched observation; ``memory`` is read, not changed.

        ``rows``: when ``obs`` holds only some users (e.g. departing users' last observations),
        their slots in ``memory``.
        """
        ids = np.asarray(obs["candidate_ids"])
        cand = np.asarray(obs["candidate_embeddings"], dtype=np.float32)  # the agent-side rows
        ui = self.user_item
        user, _ = ui.user(obs)
        profile = normalise(obs["profile_embedding"].astype(np.float32), axis=1)
        recent = obs["history_ids"][:, : ui.recent]
        # One batched product for every similarity: history mean, profile, last consumed items.
        refs = np.concatenate([user[:, None], profile[:, None], ui.table[np.clip(recent, 0, None)]],
                              axis=1)
        sims = np.matmul(cand, refs.transpose(0, 2, 1))  # (B, N, 2 + recent)
        recent_mask = (obs["history_mask"][:, : ui.recent] > 0) & (recent >= 0)
        shown, no_click = memory.view(obs, self.spec.slate_size, rows)
        columns = [
            sims[..., 0],
            sims[..., 1],
            masked_max(sims[..., 2:], recent_mask[:, None, :]),
            obs["candidate_popularity"].astype(np.float32),
            self.category_share(obs),
            count_in(ids, shown.reshape(len(ids), -1)) / self.window,
            count_in(ids, obs["history_ids"]) / obs["history_ids"].shape[1],
        ]
        session = np.concatenate([user_features(obs), no_click[:, None]], axis=1)
        out = np.empty((*ids.shape, self.dim), dtype=np.float32)
        p = ui.proj.dim
        out[..., :p] = ui.table_p[ids]
        out[..., p : p + len(columns)] = np.stack(columns, axis=-1)
        out[..., p + len(columns) : p + len(ITEM_COLUMNS)] = self.stats.features(ids)
        out[..., p + len(ITEM_COLUMNS) :] = session[:, None, :]
        return out

    def category_share(self, obs: Obs) -> np.ndarray:
        """Decayed share (B, N) of the user's history in each candidate's category; 0 if none
        (the Rank ids' column too: one function in ``envs/candidate_features.py``)."""
        return category_share(obs, self.spec.category_ids, self.spec.num_categories)

    def observe(self, obs: Obs, slates: np.ndarray, info: Mapping[str, Any]) -> None:
        """Log one batched transition into the item statistics: shown items, the consumed one
        (``info['chosen']`` slate position, −1 none) and its rating."""
        log_feedback(self.stats, obs, slates, info, "the item-wise agent")
