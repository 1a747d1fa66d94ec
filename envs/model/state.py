"""The batched engine's state as data: ``UserState`` (per-user tensors over B users) and
``WorldState`` (what the whole batch shares: seed, global step, today's candidate pool and the
similarities of every user to that pool).

The true quantities, and how each step changes them, are defined by ``envs/model/reference.py``
(``ReferenceState``). Why the engine does not simply store u and s: the two (B, d) blocks live as
rows of one matrix ``rows`` = [u_stored; s_stored] so that a single matrix product with
[E_pool; c_trend] gives every inner product a step needs, and to avoid extra passes over (B, d)
memory (what a step at large B costs),

- the interest is stored unnormalised: ``u = u_stored / interest_norm``, where the norm is updated
  in closed form from those inner products and recomputed exactly every few steps;
- satiation is stored scaled: ``s = satiation_scale · s_stored``, so its per-step decay is a
  (B,) multiplication; the reference's floor (|s_i| < float32's smallest normal → 0) is applied
  where s is materialised: when the scale is folded into the rows (every ~1e-6 of decay) and
  when s is read. Between folds an entry below the floor survives only as scale · s_stored with
  a normal s_stored (no product sees a subnormal), changing boredom by < λ · √d · 1.2e-38;
- the random walk lives in the r-dimensional basis U_r, so it is kept as coefficients ``walk``
  (B, r) and folded into the rows only when a user is renormalised: u_stored = rows + walk @ U_r.
  The coefficients are the last r columns of the product's left operand ``storage`` =
  [rows | walk] (max(2B, 8), d + r), and the right operand is [columns | <columns, U_r>], so the
  one product that scores a new pool includes the walk (an inner dimension of d + r instead of a
  second (B, r)·(r, C) product and pass over the similarities); <u_stored, U_r> (what the
  closed-form norm needs) is kept in closed form (``interest_basis``).

Convention that makes zero-copy observations safe: tensors that observations expose
(``history_*``, ``steps``) are *replaced*, never mutated in place.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..gemm import MIN_GEMM_ROWS
from .satiation import flush_small_


@dataclass
class UserState:
    """Per-user tensors over B users (shapes in the field comments)."""

    # (max(2B, 8), d + r) = [rows | walk]: the left operand of the similarity product; ``rows``
    # and ``walk`` (properties) are views of it.
    storage: torch.Tensor
    walk_basis: torch.Tensor  # (r, d) U_r, orthonormal rows (constant; (0, d) without a walk)
    interest_basis: torch.Tensor  # (B, r) <u_stored, U_r>, in closed form
    initial_interest: torch.Tensor  # (B, d) u at arrival, for drift = cos(u_t, u_0)
    initial_noise: torch.Tensor  # (B, k) noise coefficients of u_0 (users.NewUsers.noise)
    initial_inv_norm: torch.Tensor  # (B,) 1 / norm of u_0 before normalisation
    initial_basis: torch.Tensor  # (B, r) <u_0, U_r> (closed-form <u, u_0> under the walk)
    initial_centroid: torch.Tensor  # (B, C) <u_0, c> (same, under the trend; C = 0 if none)
    interest_dot_initial: torch.Tensor  # (B,) <u_stored, u_0>
    interest_norm: torch.Tensor  # (B,) ||u_stored||
    satiation_scale: torch.Tensor  # (B,) s = scale · s_stored
    dirty: torch.Tensor  # (B,) bool: u_stored changed since its last exact renormalisation
    persona: torch.Tensor  # (B,) int64 index into the user pool
    budget: torch.Tensor  # (B,) float32
    satisfaction: torch.Tensor  # (B,) float32 running satisfaction in [-1, 1]
    beta: torch.Tensor  # (B,) interest weight
    drift_rate: torch.Tensor  # (B,)
    boredom_weight: torch.Tensor  # (B,)
    no_click_utility: torch.Tensor  # (B,)
    price_sensitivity: torch.Tensor  # (B,)
    steps: torch.Tensor  # (B,) int64 steps since arrival
    generation: torch.Tensor  # (B,) int64 how many users this slot held before
    keys: torch.Tensor  # (B,) int64 counter-RNG user keys
    history_ids: torch.Tensor  # (B, H) int64, most recent first, -1 padding
    history_responses: torch.Tensor  # (B, H, 2) float32 (completion, rating / 5)
    done: torch.Tensor  # (B,) bool: left and not yet replaced (single env only)

    @property
    def num_users(self) -> int:
        return self.steps.shape[0]

    @property
    def rows(self) -> torch.Tensor:
        """(max(2B, 8), d) view: [0, B) u_stored, [B, 2B) s_stored (rows past 2B are zero)."""
        return self.storage[:, : self.walk_basis.shape[1]]

    @property
    def walk(self) -> torch.Tensor:
        """(max(B, 8), r) view: random-walk coefficients over ``walk_basis``, not yet in rows
        (rows past B are zero)."""
        walk_rows = max(self.num_users, MIN_GEMM_ROWS)
        return self.storage[:walk_rows, self.walk_basis.shape[1] :]

    @property
    def interest(self) -> torch.Tensor:
        """(B, d) unit interest u (a new tensor)."""
        b = self.num_users
        return self._stored()[:b] / self.interest_norm.unsqueeze(1)

    @property
    def satiation(self) -> torch.Tensor:
        """(B, d) satiation s (a new tensor), entries below the floor exactly 0 as the reference
        defines them (``satiation.SATIATION_FLOOR``)."""
        b = self.num_users
        return flush_small_(self._stored()[b : 2 * b] * self.satiation_scale.unsqueeze(1))

    def _stored(self) -> torch.Tensor:
        """[u_stored; s_stored] with the walk's coefficients applied (a new tensor)."""
        rows = self.rows.clone()
        if self.walk_basis.numel():
            n = self.walk.shape[0]
            rows[:n].addmm_(self.walk, self.walk_basis)
        return rows

    def clone(self) -> UserState:
        """A deep copy (for tests and for checkpointing a simulation)."""
        return UserState(**{k: v.clone() for k, v in self.__dict__.items()})


@dataclass
class WorldState:
    """Shared by the batch: the seed, the global step and today's candidate pool (a new one
    every global step)."""

    seed: int
    global_step: int
    pool_ids: torch.Tensor  # (N,) int64 catalog indices, distinct
    columns: torch.Tensor  # (C, d) = (N + t, d): [E_pool; c_trend]
    product_columns: torch.Tensor  # (C, d + r) [columns | columns @ U_r.T] (the product's)
    trend_category: int  # -1 when there is no trend
    sims: torch.Tensor  # (max(2B, 8), C) = [u_stored; s_stored] @ columns.T at the pool's start
    utilities: torch.Tensor  # (B, N) v without position effect
