"""Interest drift toward consumed items that satisfied, away from those that disappointed.

    u ← normalise(u + eta_b · (rating − neutral) / 2 · e)        (only for users who consumed)

The signed step is a rating-driven version of the "interest evolution" of RecSim (Ie et al.
2019): a liked item pulls the interest vector toward its embedding, a disliked one pushes it away.
``drift_strength`` gives the coefficient; ``apply_drift`` and ``normalise_`` are the direct
formula, which the reference step (``envs/model/reference.py``) uses. The batched engine applies
the same update in its stored representation (``state.py``: unnormalised u with a closed-form
norm, so no normalising pass over (B, d) memory) and is tested against the reference.
"""

from __future__ import annotations

import torch

from ..config import DriftConfig


def drift_strength(
    rating: torch.Tensor, consumed: torch.Tensor, rate: torch.Tensor, config: DriftConfig
) -> torch.Tensor:
    """(B,) signed step size: eta_b (rating − neutral)/2 where consumed, else 0."""
    if not config.enabled:
        return torch.zeros_like(rate)
    return torch.where(consumed, rate * (rating - config.neutral_rating) * 0.5, 0.0)


def apply_drift(interest: torch.Tensor, item: torch.Tensor, strength: torch.Tensor) -> None:
    """In place: interest (B, d) += strength (B,) · item (B, d). Not normalised here."""
    interest.addcmul_(item, strength.unsqueeze(1))


def normalise_(x: torch.Tensor) -> None:
    """In place: unit rows (a zero row stays zero rather than becoming NaN)."""
    norm = torch.linalg.vector_norm(x, dim=1, keepdim=True).clamp_min_(1e-12)
    x.div_(norm)
