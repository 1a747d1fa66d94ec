"""Linear contextual bandits on language-model features: ε-greedy, LinUCB, linear Thompson.

One ridge regression shared by all users (the features carry the personalisation, see
``features.UserItemFeatures``): for a candidate with features ``x`` (F,),

    A = λ I + Σ x xᵀ,   b = Σ x y,   θ = A⁻¹ b,

over every shown item, with label ``y`` = the step's reward if the item was the one consumed,
else 0 — so ``x·θ`` estimates an item's expected reward in this slate position. Scores:

- ε-greedy: ``x·θ``; with probability ε a user gets a uniformly random slate;
- LinUCB (Li et al. 2010): ``x·θ + α σ̂ sqrt(xᵀ A⁻¹ x)``;
- Thompson (Agrawal & Goyal 2013): ``x·θ̃_b`` with ``θ̃_b ~ N(θ, v² σ̂² A⁻¹)``, one draw per user.

σ̂² is a running estimate of the residual variance, so α and v are in units of the reward's noise
and need no retuning between scenarios whose rewards are clicks, minutes or dollars.

The update adds all B·K rows at once (``A += XᵀX``) and re-factorises A by Cholesky: one O(F³)
factorisation per step instead of B·K Sherman–Morrison rank-one updates, with no loop over users.
The slate is the top K by score.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Agent, AgentConfig, Obs, top_k
from .features import UserItemFeatures


@dataclass(frozen=True)
class BanditConfig(AgentConfig):
    """Shared by the three bandits.

    ``proj_dim``: PCA dims of the item/user vectors inside the features (F = 3·proj_dim + 4);
    ``ridge``: λ; ``decay``: history decay of the user vector; ``forget``: per-step discount of
    old statistics (1 = none; < 1 tracks drifting users at the cost of variance).
    ``alpha`` (LinUCB), ``epsilon`` (ε-greedy), ``v`` (Thompson): exploration strength.
    """

    proj_dim: int = 16
    ridge: float = 1.0
    decay: float = 0.8
    forget: float = 1.0
    alpha: float = 1.0
    epsilon: float = 0.1
    v: float = 1.0

    def __post_init__(self) -> None:
        if self.proj_dim < 1:
            raise ValueError(f"proj_dim must be >= 1, got {self.proj_dim}")
        if self.ridge <= 0:
            raise ValueError(f"ridge must be > 0, got {self.ridge}")
        if not 0 < self.decay <= 1 or not 0 < self.forget <= 1:
            raise ValueError(f"decay and forget must be in (0, 1], got {self.decay}, {self.forget}")
        if self.alpha < 0 or self.v < 0 or not 0 <= self.epsilon <= 1:
            raise ValueError(
                f"need alpha >= 0, v >= 0, 0 <= epsilon <= 1; got {self.alpha}, {self.v}, "
                f"{self.epsilon}"
            )


class LinearBandit(Agent):
    """Shared ridge-regression state and update; subclasses choose the score."""

    Config = BanditConfig

    def __init__(self, env: Any, seed: int | None = None, config: BanditConfig | None = None):
        super().__init__(env, seed, config)
        self.features = UserItemFeatures(self.spec, self.config.proj_dim, self.config.decay)
        f = self.features.dim
        self.A = self.config.ridge * np.eye(f)
        self.b = np.zeros(f)
        self.sigma2 = 1.0
        self.n = 0.0
        self._refresh()

    def _refresh(self) -> None:
        self.chol = np.linalg.cholesky(self.A)
        self.theta = _cho_solve(self.chol, self.b)
        self.A_inv = _cho_solve(self.chol, np.eye(self.A.shape[0]))

    def mean(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) @ self.theta

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        x = np.take_along_axis(self.features.bandit(obs), action[:, :, None], axis=1)  # (B, K, F)
        y = _slate_labels(action.shape, reward, info)  # (B, K)
        x = x.reshape(-1, x.shape[-1]).astype(np.float64)
        y = y.reshape(-1)
        resid = y - x @ self.theta
        cfg = self.config
        if cfg.forget < 1:
            eye = np.eye(self.A.shape[0])
            self.A = cfg.forget * self.A + (1 - cfg.forget) * cfg.ridge * eye
            self.b = cfg.forget * self.b
        self.A += x.T @ x
        self.b += x.T @ y
        # Residual variance before this step's fit: an honest (not self-fitted) noise scale.
        rate = min(1.0, len(y) / (self.n + len(y)))
        self.sigma2 = (1 - rate) * self.sigma2 + rate * float(np.mean(resid**2))
        self.n += len(y)
        self._refresh()
        return {"residual_mse": float(np.mean(resid**2)), "sigma": float(np.sqrt(self.sigma2))}

    def state_dict(self) -> dict[str, Any]:
        return {
            "A": torch.from_numpy(self.A.copy()),
            "b": torch.from_numpy(self.b.copy()),
            "sigma2": torch.tensor(self.sigma2, dtype=torch.float64),
            "n": torch.tensor(self.n, dtype=torch.float64),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.A = state["A"].numpy().astype(np.float64)
        self.b = state["b"].numpy().astype(np.float64)
        self.sigma2 = float(state["sigma2"])
        self.n = float(state["n"])
        self._refresh()


def _cho_solve(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve A X = rhs given A = L Lᵀ."""
    return np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))


def _slate_labels(shape: tuple[int, int], reward: np.ndarray, info: Mapping[str, Any]) -> np.ndarray:
    """Per shown item: the reward if it was consumed, else 0 (float64 (B, K))."""
    batch, k = shape
    labels = np.zeros((batch, k))
    if "chosen" in info:
        chosen = np.asarray(info["chosen"], dtype=np.int64).reshape(batch)
        rows = np.flatnonzero(chosen >= 0)
        labels[rows, chosen[rows]] = reward[rows]
    elif "clicks" in info:
        clicks = np.asarray(info["clicks"], dtype=np.float64).reshape(batch, k)
        labels = clicks * (reward / np.maximum(clicks.sum(axis=1), 1.0))[:, None]
    else:
        raise ValueError("bandit update needs info['chosen'] or info['clicks']")
    return labels


class EpsilonGreedyAgent(LinearBandit):
    """ε-greedy on the ridge estimate: with probability ε a user's slate is uniformly random."""

    name = "egreedy"

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        scores = self.mean(self.features.bandit(obs))
        explore = self.rng.random(scores.shape[0]) < self.config.epsilon
        scores[explore] = self.rng.random((int(explore.sum()), scores.shape[1]))
        scores[explore] += 1e6  # random ranks dominate for exploring users
        return top_k(scores, self.slate_size)


class LinUCBAgent(LinearBandit):
    """LinUCB: optimism in the face of uncertainty, ``x·θ + α σ̂ sqrt(xᵀ A⁻¹ x)``."""

    name = "linucb"

    def index(self, x: np.ndarray) -> np.ndarray:
        """The UCB index for features ``x`` (..., F)."""
        x = x.astype(np.float64)
        width = np.sqrt(np.maximum(np.einsum("...f,fg,...g->...", x, self.A_inv, x), 0.0))
        return x @ self.theta + self.config.alpha * np.sqrt(self.sigma2) * width

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        return top_k(self.index(self.features.bandit(obs)), self.slate_size)


class ThompsonAgent(LinearBandit):
    """Linear Thompson sampling: one posterior draw θ̃_b per user and step."""

    name = "thompson"

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        x = self.features.bandit(obs).astype(np.float64)
        batch, f = x.shape[0], x.shape[-1]
        z = self.rng.standard_normal((f, batch))
        # θ̃ = θ + v σ̂ L⁻ᵀ z has covariance v² σ̂² A⁻¹ when A = L Lᵀ.
        noise = np.linalg.solve(self.chol.T, z).T * (self.config.v * np.sqrt(self.sigma2))
        theta = self.theta[None, :] + noise  # (B, F)
        return top_k(np.einsum("bnf,bf->bn", x, theta), self.slate_size)
