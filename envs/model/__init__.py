"""The user model: what driftrec's users are, and the paths that step them.

- ``reference``: the definition, ``reference_step`` as plain functions over an explicit state,
  composed from one module per mechanism: ``choice``, ``response``, ``drift``, ``satiation``,
  ``exogenous`` (trend and walk), ``budget`` (satisfaction and churn); ``params`` is the data it
  is given.
- ``engine`` (with its stored ``state``): the batched torch path, for large B and GPUs.
- ``fast`` (``fast_kernels``): the compiled path for one user and small batches.

Both paths are checked against the reference (``tests/envs/model/test_reference_step.py``,
``tests/envs/model/test_fast_path.py``). The counter-based draws (``envs/rng.py``) and the row-stable
products (``envs/gemm.py``) stay one level up: the sources of users use them too."""

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
