"""Responses to the consumed item: completion, engagement, rating, purchase.

With m = <u, e> (interest match), q true quality, a appeal, bo boredom, L logistic noise:

    completion f = sigmoid(c0 + c_a·a + c_q·q + c_m·m − c_b·bo + sigma_f·L)
    engagement   = cost · f                       (minutes watched / read)
    rating       = clip(round(1 + 4·sigmoid(r0 + r_q·q + r_m·m − r_b·bo + sigma_r·L')), 1, 5)
    purchase     ~ Bernoulli(sigmoid(p0 + p_q·q + p_m·m − price_sens·log(price / p_ref)))

The appeal term in completion is the hook of clickbait: it is watched for a while even though its
true quality (which drives rating, drift, budget refill) is low. With the purchase funnel on
(shopping), the engagement and completion are the purchase indicator and the revenue is
purchase × price.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ..config import ResponseConfig
from ..rng import sigmoid


@dataclass
class Response:
    completion: torch.Tensor  # (B,) in [0, 1]
    engagement: torch.Tensor  # (B,) scenario units (minutes or purchase 0/1)
    rating: torch.Tensor  # (B,) float in {0} ∪ [1, 5] (0 when nothing consumed)
    purchased: torch.Tensor  # (B,) bool
    revenue: torch.Tensor  # (B,)


def logistic_noise(uniform: torch.Tensor) -> torch.Tensor:
    """Standard logistic noise from uniforms in (0, 1)."""
    return torch.log(uniform) - torch.log1p(-uniform)


def completion_logit(
    quality: torch.Tensor,
    appeal: torch.Tensor,
    match: torch.Tensor,
    bored: torch.Tensor,
    config: ResponseConfig,
) -> torch.Tensor:
    """Noise-free completion logit (broadcasts: used per consumed item and per candidate)."""
    return (
        config.completion_bias
        + config.completion_appeal * appeal
        + config.completion_quality * quality
        + config.completion_match * match
        - config.completion_boredom * bored
    )


def purchase_logit(
    quality: torch.Tensor,
    match: torch.Tensor,
    price: torch.Tensor,
    sensitivity: torch.Tensor,
    config: ResponseConfig,
) -> torch.Tensor:
    """Noise-free purchase logit (broadcasts)."""
    return (
        config.purchase_bias
        + config.purchase_quality * quality
        + config.purchase_match * match
        - sensitivity * torch.log(price.clamp_min(1e-6) / config.price_reference)
    )


def rating_mean(
    quality: torch.Tensor, match: torch.Tensor, bored: torch.Tensor, config: ResponseConfig
) -> torch.Tensor:
    """Noise-free continuous rating in [1, 5] (broadcasts)."""
    return 1.0 + 4.0 * sigmoid(
        config.rating_bias
        + config.rating_quality * quality
        + config.rating_match * match
        - config.rating_boredom * bored
    )


def respond(
    consumed: torch.Tensor,
    quality: torch.Tensor,
    appeal: torch.Tensor,
    cost: torch.Tensor,
    match: torch.Tensor,
    bored: torch.Tensor,
    price_sensitivity: torch.Tensor,
    uniforms: torch.Tensor,
    config: ResponseConfig,
) -> Response:
    """Responses of B users to their consumed item; ``uniforms`` (B, 3) in (0, 1)."""
    f = sigmoid(
        completion_logit(quality, appeal, match, bored, config)
        + config.completion_noise * logistic_noise(uniforms[:, 0])
    )
    r = 1.0 + 4.0 * sigmoid(
        config.rating_bias
        + config.rating_quality * quality
        + config.rating_match * match
        - config.rating_boredom * bored
        + config.rating_noise * logistic_noise(uniforms[:, 1])
    )
    rating = torch.where(consumed, torch.round(r).clamp(1.0, 5.0), 0.0)
    zero = torch.zeros_like(f)
    if config.purchase_enabled:
        p = sigmoid(purchase_logit(quality, match, cost, price_sensitivity, config))
        purchased = consumed & (uniforms[:, 2] < p)
        bought = purchased.to(f.dtype)
        return Response(bought, bought, rating, purchased, bought * cost)
    f = torch.where(consumed, f, zero)
    return Response(f, f * cost, rating, torch.zeros_like(consumed), zero)
