"""n-step returns with delayed labels, batched over users, and logged per-item statistics.

``NStepReturns``: a myopic learner regresses the immediate reward, which in ``video`` rewards
exactly what burns the user's budget (long, low-quality items). Labelling the step-t decision
with the user's discounted reward over the next n steps,

    G_t = Σ_{j<n} γ^j r_{t+j}     (truncated when the user leaves — leaving costs the lost future),

turns a bandit or supervised ranker into a (short-horizon) long-term-value learner without
bootstrapping. The label of step t is known n steps later, so each payload (e.g. the features of
the shown items) waits in a queue of at most n entries; everything is vectorised over users.

``ItemStats`` (defined in ``driftrec.envs.candidate_features``, shared with the Rank ids): what a
recommender logs per catalog item — impressions, consumptions, rating sum —
as shrunk estimates. Item quality is not in the text (a linear probe of the embeddings explains
~0% of its variance in the built-in catalogs), so per-item feedback is the only way to learn it.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np
from driftrec.envs.candidate_features import ItemStats  # shared with the env's Rank ids

__all__ = ["ItemStats", "NStepReturns"]


class NStepReturns:
    """Queue of payloads (dicts of (B, ...) arrays) awaiting their n-step returns."""

    def __init__(self, horizon: int, gamma: float):
        if horizon < 1 or not 0 <= gamma <= 1:
            raise ValueError(f"need horizon >= 1 and gamma in [0, 1], got {horizon}, {gamma}")
        self.horizon = horizon
        self.gamma = gamma
        self.pending: deque[dict[str, Any]] = deque()

    def push(self, payload: dict[str, np.ndarray], reward: np.ndarray, done: np.ndarray
             ) -> list[tuple[dict[str, np.ndarray], np.ndarray]]:
        """Add this step's reward to pending entries, enqueue ``payload`` (its reward is
        ``reward``); return the (payload, return (B,)) pairs whose n steps are complete."""
        reward = np.asarray(reward, dtype=np.float64)
        done = np.asarray(done, dtype=bool)
        for entry in self.pending:
            entry["ret"] += (self.gamma ** entry["age"]) * reward * entry["alive"]
            entry["alive"] &= ~done
            entry["age"] += 1
        self.pending.append({"payload": payload, "ret": reward.copy(), "alive": ~done,
                             "age": 1})
        out = []
        while self.pending and self.pending[0]["age"] >= self.horizon:
            entry = self.pending.popleft()
            out.append((entry["payload"], entry["ret"]))
        return out
