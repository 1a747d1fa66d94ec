"""Satiation and boredom.

    s ← decay · s + rate · e     (e the consumed item's embedding; 0 if nothing consumed)
    s_i ← 0  where |s_i| < SATIATION_FLOOR (float32's smallest normal, ~1.2e-38)
    boredom_j = max(0, <s, e_j>)

Satiation lives in the embedding space, so a user tires of a *region* of meaning (all cooking
videos), not of one item id, and recovers as ``decay`` shrinks ``s`` when the region is avoided.

``update_satiation`` is the direct formula, which the reference step (``envs/model/reference.py``)
uses; the batched engine stores ``s = scale · s_stored`` so the decay is a (B,) multiplication of
``scale``, and is tested against the reference.

Why the floor: a user who consumes nothing for a few hundred steps decays ``s`` into float32's
subnormal range, and with decay > 1/2 rounding keeps the last subnormal there for ever
(decay · x rounds back to x); every product with a subnormal operand then runs an order of
magnitude slower on x86, so such a user's step was ~5x slower (docs/performance.md). Satiation
below 1.2e-38 changes no utility a float32 path can represent, so it is defined as exactly 0; it
is part of the definition (not a global ``torch.set_flush_denormal``) so that every path applies
the same rule and stays comparable to the reference.
"""

from __future__ import annotations

import numpy as np
import torch

from ..config import SatiationConfig

# |s_i| below this is exactly 0 (see the module docstring): float32's smallest normal number.
SATIATION_FLOOR = float(np.finfo(np.float32).tiny)


def update_satiation(
    satiation: torch.Tensor, item: torch.Tensor, consumed: torch.Tensor, config: SatiationConfig
) -> None:
    """In place on (B, d) ``satiation``; ``item`` (B, d) the consumed embedding. Entries below
    ``SATIATION_FLOOR`` in magnitude become exactly 0 (``flush_small_``)."""
    if not config.enabled:
        return
    satiation.mul_(config.decay)
    satiation.addcmul_(item, (consumed.to(item.dtype) * config.rate).unsqueeze(1))
    flush_small_(satiation)


def flush_small_(satiation: torch.Tensor) -> torch.Tensor:
    """In place: entries with |s_i| < ``SATIATION_FLOOR`` set to exactly 0 (any shape);
    returns ``satiation``. Local and explicit, unlike a process-wide flush-to-zero mode."""
    return satiation.masked_fill_(satiation.abs() < SATIATION_FLOOR, 0.0)


def boredom(satiation_sim: torch.Tensor) -> torch.Tensor:
    """max(0, <s, e>) from precomputed similarities (any shape)."""
    return torch.clamp_min(satiation_sim, 0.0)
