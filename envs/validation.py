"""Checks at the environment edge: every bad action is rejected before any state changes.

Messages name the bad value and what was expected, e.g. "slate has duplicate positions [3, 3] at
user 5; expected K=10 distinct positions in [0, 100)".
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

#: Why a sampled slate repeats a position, and what to use instead (envs/rank.py).
RANK_HINT = (
    "Policies that sample each position independently (SB3's and TorchRL's defaults) repeat "
    "positions; use the score-per-candidate ids instead (driftrec/VideoRank-v0, "
    "driftrec/NewsRank-v0, driftrec/ShoppingRank-v0: a Box(N) score per candidate, the top K "
    "shown) or wrap the env in driftrec.envs.ScoreAction"
)


def validate_slate(action: Any, num_users: int | None, k: int, n: int) -> np.ndarray:
    """Return the action as an int64 (B, K) array (or (K,) when ``num_users`` is None).

    Raises ``TypeError`` for non-integer dtypes and ``ValueError`` for wrong shapes,
    out-of-range or duplicate positions.
    """
    if isinstance(action, torch.Tensor):
        action = action.detach().cpu().numpy()
    if isinstance(action, (bool, np.bool_)) or action is None or isinstance(action, (str, bytes)):
        raise TypeError(f"slate must be an integer array, got {action!r}")
    arr = np.asarray(action)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.integer)):
        raise TypeError(
            f"slate must have an integer dtype (positions into the {n} candidates), got dtype "
            f"{arr.dtype}"
        )
    expected = (k,) if num_users is None else (num_users, k)
    if arr.shape != expected:
        raise ValueError(f"slate has shape {arr.shape}; expected {expected} (K={k} positions)")
    batch = arr.reshape(-1, k).astype(np.int64, copy=False)
    if batch.size and (batch.min() < 0 or batch.max() >= n):  # two reductions, no mask
        bad = (batch < 0) | (batch >= n)
        user = int(np.argwhere(bad)[0, 0])
        values = batch[user][bad[user]].tolist()
        where = "" if num_users is None else f" at user {user}"
        raise ValueError(
            f"slate has positions {values} out of range{where}; expected K={k} distinct positions "
            f"in [0, {n})"
        )
    if k > 1:
        srt = np.sort(batch, axis=1)
        dup = (srt[:, 1:] == srt[:, :-1]).any(axis=1)
        if dup.any():
            user = int(np.argmax(dup))
            row = srt[user]
            values = row[1:][row[1:] == row[:-1]].tolist()
            where = "" if num_users is None else f" at user {user}"
            raise ValueError(
                f"slate has duplicate positions {[values[0], values[0]]}{where}; expected K={k} "
                f"distinct positions in [0, {n}). {RANK_HINT}"
            )
    return np.ascontiguousarray(arr, dtype=np.int64)


def validate_scores(scores: Any, shape: tuple[int, ...]) -> np.ndarray:
    """Scores as float array of ``shape``; ``ValueError`` for NaN/inf or a wrong shape."""
    if isinstance(scores, torch.Tensor):
        scores = scores.detach().cpu().numpy()
    arr = np.asarray(scores)
    if arr.dtype == object or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"scores must be a numeric array, got dtype {arr.dtype}")
    if arr.shape != shape:
        raise ValueError(f"scores have shape {arr.shape}; expected {shape}")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise ValueError(
            f"scores contain a non-finite value {float(arr[tuple(bad)])} at index {tuple(bad.tolist())}; "
            "expected finite scores"
        )
    return arr
