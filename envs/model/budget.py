"""Session budget, running satisfaction and churn.

    b ← min(b_max, b − step_cost − spend·c·f + refill·max(0, q − q0)·c·f)
    S ← a·S + (1 − a)·(rating − 3)/2          (consumption steps only)
    leave if b ≤ 0, or with probability hazard·sigmoid(slope·(threshold − S))

Watching spends the session's time; good content makes the user want to stay (refills), while
clickbait — chosen for its appeal, of low true quality — spends and refills little. This is what
gives ``video`` its long-horizon structure: the immediate engagement of clickbait is paid for with
a shorter session.
"""

from __future__ import annotations

import torch

from ..config import BudgetConfig
from ..rng import sigmoid


def update_budget(
    budget: torch.Tensor,
    cost: torch.Tensor,
    completion: torch.Tensor,
    quality: torch.Tensor,
    consumed: torch.Tensor,
    config: BudgetConfig,
) -> torch.Tensor:
    """New (B,) budget (a new tensor)."""
    if not config.enabled:
        return budget
    used = torch.where(consumed, cost * completion, 0.0)
    gain = config.refill_rate * torch.clamp_min(quality - config.refill_threshold, 0.0)
    new = budget - config.step_cost + used * (gain - config.spend_rate)
    return torch.clamp_max(new, config.max_budget)


def update_satisfaction(
    satisfaction: torch.Tensor, rating: torch.Tensor, consumed: torch.Tensor, config: BudgetConfig
) -> torch.Tensor:
    """New (B,) running satisfaction in [-1, 1]."""
    a = config.satisfaction_smoothing
    signal = (rating - 3.0) * 0.5
    return torch.where(consumed, a * satisfaction + (1 - a) * signal, satisfaction)


def hazard(satisfaction: torch.Tensor, config: BudgetConfig) -> torch.Tensor:
    """(B,) per-step probability of leaving from dissatisfaction (0 when disabled)."""
    if not config.hazard_enabled:
        return torch.zeros_like(satisfaction)
    return config.hazard_rate * sigmoid(
        config.hazard_slope * (config.hazard_threshold - satisfaction)
    )


def churn(
    budget: torch.Tensor, satisfaction: torch.Tensor, uniform: torch.Tensor, config: BudgetConfig
) -> torch.Tensor:
    """(B,) bool: the user leaves now (budget exhausted or dissatisfaction hazard)."""
    out = uniform < hazard(satisfaction, config)
    if config.enabled:
        out = out | (budget <= 0)
    return out
