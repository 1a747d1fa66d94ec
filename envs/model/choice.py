"""Choice models: which slate position (if any) a user clicks.

Inputs are slate utilities ``v`` (B, K) (position effect included), the no-click utility ``v0``
(B,), temperature ``tau`` and examination probabilities ``e_k = examination_decay**k``.

- ``mnl``: P(k) = exp(v_k/tau) / (exp(v0/tau) + sum_j exp(v_j/tau)); P(none) the rest. One
  uniform, inverse CDF.
- ``cascade`` (Craswell et al. 2008, with position examination): scanning top-down, position k is
  examined with probability e_k and then clicked with probability sigmoid((v_k - v0)/tau); the scan
  stops at the first click: P(first click at k) = a_k prod_{j<k} (1 - a_j), a_k = e_k
  sigmoid((v_k - v0)/tau).
- ``independent``: every position clicked independently with probability a_k (multi-click); the
  user consumes the clicked item of highest utility.

Every function takes its uniforms as an argument (counter-based draws) and is vectorised over B.
"""

from __future__ import annotations

import torch

from ..config import ChoiceConfig
from ..rng import sigmoid


def examination(k: int, config: ChoiceConfig, device: torch.device | str = "cpu") -> torch.Tensor:
    """(K,) examination probabilities e_k = decay**k (cascade, independent)."""
    return config.examination_decay ** torch.arange(k, dtype=torch.float32, device=device)


def position_effect(
    k: int, config: ChoiceConfig, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """(K,) additive utility of position k: -position_decay · log2(1 + k)."""
    return -config.position_decay * torch.log2(
        1.0 + torch.arange(k, dtype=torch.float32, device=device)
    )


def click_probabilities(v: torch.Tensor, v0: torch.Tensor, config: ChoiceConfig) -> torch.Tensor:
    """(B, K + 1) probabilities of each model's outcomes, for tests and analysis.

    ``mnl``/``cascade``: P(consume position k) for k < K and P(no click) in the last column.
    ``independent``: per-position click probabilities a_k, and P(no click at all) last.
    """
    tau = config.temperature
    if config.model == "mnl":
        logits = torch.cat([v, v0.unsqueeze(1)], dim=1) / tau
        return torch.softmax(logits, dim=1)
    a = examination(v.shape[1], config, v.device) * sigmoid((v - v0.unsqueeze(1)) / tau)
    if config.model == "cascade":
        survive = torch.cumprod(torch.cat([torch.ones_like(a[:, :1]), 1 - a], dim=1), dim=1)
        return torch.cat([a * survive[:, :-1], survive[:, -1:]], dim=1)
    return torch.cat([a, torch.prod(1 - a, dim=1, keepdim=True)], dim=1)


def _one_hot(chosen: torch.Tensor, k: int) -> torch.Tensor:
    """(B, K) bool: True at the chosen position; all False where ``chosen`` is -1."""
    return chosen.unsqueeze(1) == torch.arange(k, device=chosen.device)


def choose(
    v: torch.Tensor, v0: torch.Tensor, uniforms: torch.Tensor, config: ChoiceConfig
) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample choices. ``uniforms``: (B, K) in (0, 1) (mnl uses column 0 only).

    Returns ``clicks`` (B, K) bool and ``chosen`` (B,) int64: the consumed position or -1.
    """
    k = v.shape[1]
    tau = config.temperature
    if config.model == "mnl":
        # Inverse CDF on unnormalised weights (u · total instead of a softmax: fewer passes).
        logits = torch.cat([v, v0.unsqueeze(1)], dim=1)
        if tau != 1.0:
            logits.mul_(1.0 / tau)
        weights = torch.exp(logits.sub_(logits.amax(dim=1, keepdim=True)))
        cdf = torch.cumsum(weights, dim=1)
        idx = (cdf[:, :k] < uniforms[:, :1] * cdf[:, k:]).sum(dim=1)
        chosen = torch.where(idx < k, idx, -1)
        return _one_hot(chosen, k), chosen
    a = examination(k, config, v.device) * sigmoid((v - v0.unsqueeze(1)) / tau)
    raw = uniforms[:, :k] < a
    any_click = raw.any(dim=1)
    if config.model == "cascade":
        first = torch.argmax(raw.to(torch.int8), dim=1)
        chosen = torch.where(any_click, first, -1)
        return _one_hot(chosen, k), chosen
    best = torch.argmax(torch.where(raw, v, torch.full_like(v, -torch.inf)), dim=1)
    chosen = torch.where(any_click, best, torch.full_like(best, -1))
    return raw, chosen
