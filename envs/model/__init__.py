"""The user model as plain functions over an explicit state (``reference``), and the data it is
given (``params``). ``reference_step`` defines driftrec's users; faster paths are checked
against it."""

from __future__ import annotations

from .params import DTYPE, NOISE_RANK, ReferenceParams
from .reference import (
    Outcome,
    ReferenceState,
    candidate_pool,
    new_users,
    reference_reset,
    reference_rollout,
    reference_step,
    replace_users,
    step_draws,
    trending_category,
    utility,
)

__all__ = [
    "DTYPE",
    "NOISE_RANK",
    "Outcome",
    "ReferenceParams",
    "ReferenceState",
    "candidate_pool",
    "new_users",
    "reference_reset",
    "reference_rollout",
    "reference_step",
    "replace_users",
    "step_draws",
    "trending_category",
    "utility",
]
