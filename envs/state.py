"""The simulator's state as data: ``UserState`` (per-user tensors over B users) and ``WorldState``
(what the whole batch shares: seed, global step, today's candidate pool and the utilities of that
pool for every user).

Convention that makes zero-copy observations safe: tensors that observations expose
(``history_*``, ``steps``, ``profile``) are *replaced*, never mutated in place, so an array an
agent holds from an earlier step never changes under it. The large hidden tensors (interest,
satiation) are updated in place; they are never handed out.

``interest`` and ``satiation`` are two halves of one (2B, d) tensor ``us`` so that the utilities
of all N candidates for both come out of one matrix product ``us @ E_pool.T``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class UserState:
    """Per-user tensors over B users (shapes in the field comments)."""

    us: torch.Tensor  # (max(2B, 8), d): rows [0, B) interest u (unit), [B, 2B) satiation s
    initial_interest: torch.Tensor  # (B, d) u at arrival, for drift = cos(u_t, u_0)
    profile: torch.Tensor  # (B, d_a) public profile embedding (agent side)
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
    def interest(self) -> torch.Tensor:
        """(B, d) view of the interest rows of ``us``."""
        return self.us[: self.num_users]

    @property
    def satiation(self) -> torch.Tensor:
        """(B, d) view of the satiation rows of ``us``."""
        return self.us[self.num_users : 2 * self.num_users]

    def clone(self) -> UserState:
        """A deep copy (for tests and for checkpointing a simulation)."""
        return UserState(**{k: v.clone() for k, v in self.__dict__.items()})


@dataclass
class WorldState:
    """Shared by the batch: the seed, the global step and today's candidate pool."""

    seed: int
    global_step: int
    pool_ids: torch.Tensor  # (N,) int64 catalog indices, distinct
    pool_embeddings: torch.Tensor  # (N, d) true embeddings of the pool
    interest_sim: torch.Tensor  # (B, N) <u_b, e_j>
    boredom: torch.Tensor  # (B, N) max(0, <s_b, e_j>)
    utilities: torch.Tensor  # (B, N) v without position effect
