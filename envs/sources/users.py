"""Who the simulated users are: a pool of user types and the per-user draws at arrival.

A ``UserPool`` holds P user types: their initial interest (P, d) in the catalog's embedding space
and their public profile embedding (P, d_p). By default the pool comes from persona texts
(``generate_personas``) encoded by the catalog's encoder: interest = normalise(text embedding +
mean centroid of the persona's interest categories), profile = the text embedding (what a real
service knows: the declared profile, not the hidden interest). A real-data loader passes its own
``UserPool`` (interests from users' histories).

At arrival, user b draws (counter-based, keyed by its user key): a persona index, interest noise
in the catalog's top-k principal subspace (u_0 = normalise(pool interest + interest_noise·z U_k/√k),
k = 32), and log-normal factors for its sensitivities (HeterogeneityConfig).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from .. import rng
from ..config import HeterogeneityConfig, UserModelConfig
from ..gemm import rows_stable_mm


@dataclass(frozen=True)
class UserPool:
    """P user types: ``interests`` (P, d) unit rows in the catalog space, ``profiles`` (P, d_p)
    public profile embeddings (in the catalog space, d_p = d, or already agent-side), optional
    ``texts`` (P,) persona texts."""

    interests: np.ndarray
    profiles: np.ndarray
    texts: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        interests = np.asarray(self.interests, dtype=np.float32)
        profiles = np.asarray(self.profiles, dtype=np.float32)
        if interests.ndim != 2 or interests.shape[0] == 0:
            raise ValueError(f"UserPool.interests must be (P, d) with P > 0, got {interests.shape}")
        if profiles.ndim != 2 or profiles.shape[0] != interests.shape[0]:
            raise ValueError(
                f"UserPool.profiles must be (P, d_p) with P={interests.shape[0]}, got {profiles.shape}"
            )
        if not (np.isfinite(interests).all() and np.isfinite(profiles).all()):
            raise ValueError("UserPool.interests and .profiles must be finite")
        norms = np.linalg.norm(interests, axis=1, keepdims=True)
        if (norms == 0).any():
            raise ValueError("UserPool.interests has a zero row; expected nonzero interest vectors")
        object.__setattr__(self, "interests", interests / norms)
        object.__setattr__(self, "profiles", profiles)
        if self.texts is not None and len(self.texts) != interests.shape[0]:
            raise ValueError(f"UserPool.texts must have {interests.shape[0]} entries")

    def __len__(self) -> int:
        return int(self.interests.shape[0])


def _normalise_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)


def centroids_np(embeddings: np.ndarray, category_ids: np.ndarray, c: int) -> np.ndarray:
    """(C, d) unit category centroids."""
    sums = np.zeros((c, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, category_ids, embeddings)
    return _normalise_rows(sums).astype(np.float32)


def synthetic_pool(catalog, config: HeterogeneityConfig) -> UserPool:
    """Pool without texts: each type likes 1–3 categories (mixture of their centroids)."""
    c = len(catalog.categories)
    cent = centroids_np(np.asarray(catalog.embeddings), np.asarray(catalog.category_ids), c)
    p = config.num_personas
    key = rng.mix(config.persona_seed, rng.STREAM_SYNTH_PERSONA, torch.arange(p))
    u = rng.uniform(key, 4, dtype=torch.float64).numpy()
    counts = 1 + (u[:, 0] * 3).astype(int)
    interests = np.zeros((p, cent.shape[1]), dtype=np.float32)
    for i in range(p):
        picks = [(int(u[i, 1 + j] * c) + 7 * j) % c for j in range(counts[i])]
        interests[i] = cent[picks].sum(axis=0)
    interests = _normalise_rows(interests)
    return UserPool(interests=interests, profiles=interests.copy(), texts=None)


def persona_pool(catalog, config: HeterogeneityConfig, encoder) -> UserPool:
    """Pool from persona texts of the catalog's domain, encoded by ``encoder`` (the catalog's)."""
    from .personas import generate_personas

    personas = generate_personas(catalog.domain, config.num_personas, config.persona_seed)
    texts = tuple(p.text for p in personas)
    text_emb = np.asarray(encoder.encode(list(texts)), dtype=np.float32)
    c = len(catalog.categories)
    cent = centroids_np(np.asarray(catalog.embeddings), np.asarray(catalog.category_ids), c)
    interests = text_emb.copy()
    for i, persona in enumerate(personas):
        cats = [int(k) for k in persona.interests if 0 <= int(k) < c]
        if cats:
            interests[i] = interests[i] + cent[cats].mean(axis=0) * 2.0
    return UserPool(interests=_normalise_rows(interests), profiles=text_emb, texts=texts)


@dataclass
class NewUsers:
    """Draws for ``n`` arriving users (tensors with leading n)."""

    persona: torch.Tensor
    interest: torch.Tensor  # (n, d) unit
    # interest = (pool_interests[persona] + noise @ noise_basis) / norm, so a caller that knows
    # the inner products of the personas and of the basis with some vectors gets the user's
    # without an (n, d) product (the engine's <e, u_0> tables, docs/performance.md).
    noise: torch.Tensor | None  # (n, k) coefficients on the noise basis; None without noise
    norm: torch.Tensor  # (n, 1)
    beta: torch.Tensor
    drift_rate: torch.Tensor
    boredom_weight: torch.Tensor
    no_click_utility: torch.Tensor
    price_sensitivity: torch.Tensor
    budget: torch.Tensor


def draw_new_users(
    seed: int,
    keys: torch.Tensor,
    pool_interests: torch.Tensor,
    model: UserModelConfig,
    noise_basis: torch.Tensor,
) -> NewUsers:
    """Counter-based arrival draws for users with ``keys`` (n,); pool_interests (P, d).

    The interest noise lives in ``noise_basis`` (k, d), the catalog's top-k principal directions:
    isotropic noise in a 384-d space is almost orthogonal to every item (it would only shrink all
    similarities), while noise along the directions in which items differ makes users of one
    persona genuinely different — and costs k draws per user instead of d.
    """
    het = model.heterogeneity
    p = pool_interests.shape[0]
    k = noise_basis.shape[0]
    base = rng.mix(seed, rng.STREAM_INIT, keys)
    draws = rng.uniform(base, k + 8)  # k interest noise, 7 heterogeneity normals, 1 persona
    z = rng.normal_from_uniforms(draws, k + 7)
    persona = torch.clamp((draws[:, k + 7].to(torch.float64) * p).to(torch.int64), max=p - 1)
    interest = pool_interests.index_select(0, persona)
    noise = None
    if het.enabled and het.interest_noise > 0:
        noise = z[:, :k] * (het.interest_noise / math.sqrt(k))
        interest = interest + rows_stable_mm(noise, noise_basis)
    norm = torch.linalg.vector_norm(interest, dim=1, keepdim=True).clamp_min(1e-12)
    interest = interest / norm
    h = z[:, k:]
    on = 1.0 if het.enabled else 0.0
    c, b = model.choice, model.budget
    # Mean-one lognormal multipliers of the base values, one column per parameter (column 3,
    # the no-click utility, is additive normal instead).
    spread = torch.tensor(
        [het.interest_spread, het.drift_spread, het.boredom_spread, 0.0, het.price_spread,
         het.budget_spread], device=h.device,
    ) * on  # fmt: skip
    base_value = torch.tensor(
        [c.interest_weight, model.drift.rate, model.satiation.boredom_weight, 0.0,
         model.response.price_sensitivity, b.initial], device=h.device,
    )  # fmt: skip
    value = torch.exp(h[:, :6] * spread - 0.5 * spread * spread) * base_value
    return NewUsers(
        persona=persona,
        interest=interest,
        noise=noise,
        norm=norm,
        beta=value[:, 0],
        drift_rate=value[:, 1],
        boredom_weight=value[:, 2],
        no_click_utility=c.no_click_utility + on * het.no_click_std * h[:, 3],
        price_sensitivity=value[:, 4],
        budget=torch.clamp(value[:, 5], max=b.max_budget),
    )
