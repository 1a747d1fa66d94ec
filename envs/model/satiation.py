"""Satiation and boredom.

    s ← decay · s + rate · e     (e the consumed item's embedding; 0 if nothing consumed)
    boredom_j = max(0, <s, e_j>)

Satiation lives in the embedding space, so a user tires of a *region* of meaning (all cooking
videos), not of one item id, and recovers as ``decay`` shrinks ``s`` when the region is avoided.

``update_satiation`` is the direct formula, which the reference step (``envs/model/reference.py``)
uses; the batched engine stores ``s = scale · s_stored`` so the decay is a (B,) multiplication of
``scale``, and is tested against the reference.
"""

from __future__ import annotations

import torch

from ..config import SatiationConfig


def update_satiation(
    satiation: torch.Tensor, item: torch.Tensor, consumed: torch.Tensor, config: SatiationConfig
) -> None:
    """In place on (B, d) ``satiation``; ``item`` (B, d) the consumed embedding."""
    if not config.enabled:
        return
    satiation.mul_(config.decay)
    satiation.addcmul_(item, (consumed.to(item.dtype) * config.rate).unsqueeze(1))


def boredom(satiation_sim: torch.Tensor) -> torch.Tensor:
    """max(0, <s, e>) from precomputed similarities (any shape)."""
    return torch.clamp_min(satiation_sim, 0.0)
