"""What the env promises every agent, defined once: the observation's keys and the rule that turns
scores into a slate (top K).

The engines build observations with these keys, the agents check them, and every score-based
route (the ``ScoreAction`` and Rank wrappers, the agents' rankers, the benchmarks' oracles)
ranks with ``top_k``, so a tie or a NaN score resolves the same way everywhere.
"""

from __future__ import annotations

import numpy as np

OBS_KEYS: tuple[str, ...] = (
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


def top_k(scores: np.ndarray, k: int) -> np.ndarray:
    """Positions of the k highest scores along the last axis, best first, as int64 (..., k).

    NaN scores rank last; ties resolve to the lower position so results are reproducible.
    """
    scores = np.asarray(scores)
    if np.issubdtype(scores.dtype, np.floating):
        scores = np.where(np.isnan(scores), -np.inf, scores)
    # A stable sort on the negated scores keeps the lower index first among equals.
    return np.argsort(-scores, axis=-1, kind="stable")[..., :k].astype(np.int64)
