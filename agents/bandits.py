"""Linear contextual bandits on language-model features: ε-greedy, LinUCB, linear Thompson.

One ridge regression shared by all users (the features carry the personalisation, see
``features.UserItemFeatures``; plus each item's logged shrunk mean rating and take rate,
``returns.ItemStats`` — the item quality the text does not reveal): for a candidate with
features ``x`` (F,),

    A = λ I + Σ x xᵀ,   b = Σ x y,   θ = A⁻¹ b,

over every shown item, with label ``y`` = the step's reward (or, with ``horizon`` n > 1, the
user's reward over the next n steps) if the item was the one consumed, else 0 — so ``x·θ``
estimates an item's expected (n-step) reward when shown. Scores:

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
from .returns import ItemStats, NStepReturns


@dataclass(frozen=True)
class BanditConfig(AgentConfig):
    """Shared by the three bandits.

    ``proj_dim``: PCA dims of the item/user vectors inside the features (F = 3·proj_dim + 4);
    ``ridge``: λ; ``decay``: history decay of the user vector; ``forget``: per-step discount of
    old statistics (1 = none; < 1 tracks drifting users at the cost of variance).
    ``alpha`` (LinUCB), ``epsilon`` (ε-greedy), ``v`` (Thompson): exploration strength.
    ``horizon``/``gamma``: label = the user's discounted reward over the next ``horizon`` steps
    (``returns.NStepReturns``; 1 = the immediate reward); ``item_stats``: append each item's
    logged shrunk mean rating and take rate (``returns.ItemStats``) to the features.
    """

    proj_dim: int = 4
    ridge: float = 1.0
    decay: float = 0.8
    forget: float = 1.0
    alpha: float = 1.0
    epsilon: float = 0.1
    v: float = 1.0
    horizon: int = 1
    gamma: float = 1.0
    item_stats: bool = True

    def __post_init__(self) -> None:
        if self.proj_dim < 1:
            raise ValueError(f"proj_dim must be >= 1, got {self.proj_dim}")
        if self.ridge <= 0:
            raise ValueError(f"ridge must be > 0, got {self.ridge}")
        if not 0 < self.decay <= 1 or not 0 < self.forget <= 1:
            raise ValueError(f"decay and forget must be in (0, 1], got {self.decay}, {self.forget}")
        if self.horizon < 1 or not 0 <= self.gamma <= 1:
            raise ValueError(f"need horizon >= 1, 0 <= gamma <= 1; got {self.horizon}, {self.gamma}")
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
        self.stats = ItemStats(self.spec.num_items)
        self.returns = NStepReturns(self.config.horizon, self.config.gamma)
        f = self.features.dim + (2 if self.config.item_stats else 0)
        self.A = self.config.ridge * np.eye(f)
        self.b = np.zeros(f)
        self.sigma2 = 1.0
        self.n = 0.0
        self._refresh()

    def _refresh(self) -> None:
        self.chol = np.linalg.cholesky(self.A)
        self.theta = _cho_solve(self.chol, self.b)
        self.A_inv = _cho_solve(self.chol, np.eye(self.A.shape[0]))

    def contexts(self, obs: Obs) -> np.ndarray:
        """Per-candidate feature vectors x, float32 (B, N, F)."""
        x = self.features.bandit(obs)
        if self.config.item_stats:
            x = np.concatenate([x, self.stats.features(np.asarray(obs["candidate_ids"]))], -1)
        return x

    def mean(self, x: np.ndarray) -> np.ndarray:
        return x.astype(np.float64) @ self.theta

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        ids = np.asarray(obs["candidate_ids"])
        shown = dict(obs)  # features of the K shown items only
        shown["candidate_ids"] = np.take_along_axis(ids, action, axis=1)
        shown["candidate_popularity"] = np.take_along_axis(
            np.asarray(obs["candidate_popularity"]), action, axis=1)
        x = self.contexts(shown)  # (B, K, F), before this step's feedback enters the stats
        chosen = _chosen(action.shape, info)
        rows = np.flatnonzero(chosen >= 0)
        rating = np.asarray(info.get("rating", np.zeros(len(reward))), dtype=np.float64)
        self.stats.observe(shown["candidate_ids"], shown["candidate_ids"][rows, chosen[rows]],
                           rating.reshape(-1)[rows])
        matured = self.returns.push({"x": x, "chosen": chosen}, reward, terminated | truncated)
        stats: dict[str, float] = {}
        for payload, ret in matured:
            stats = self._fit(
                payload["x"], _slate_labels(payload["chosen"], ret, payload["x"].shape[1]))
        return stats

    def _fit(self, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
        """Add rows x (B, K, F) with labels y (B, K) to the ridge statistics."""
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
            **{f"stats_{k}": torch.from_numpy(v.copy()) for k, v in self.stats.state().items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.A = state["A"].numpy().astype(np.float64)
        self.b = state["b"].numpy().astype(np.float64)
        self.sigma2 = float(state["sigma2"])
        self.n = float(state["n"])
        self.stats.load({k[6:]: v.numpy() for k, v in state.items() if k.startswith("stats_")})
        self._refresh()


def _cho_solve(chol: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Solve A X = rhs given A = L Lᵀ."""
    return np.linalg.solve(chol.T, np.linalg.solve(chol, rhs))


def _chosen(shape: tuple[int, int], info: Mapping[str, Any]) -> np.ndarray:
    """Slate position consumed by each user (B,), −1 for none."""
    batch, k = shape
    if "chosen" in info:
        return np.asarray(info["chosen"], dtype=np.int64).reshape(batch)
    if "clicks" in info:
        clicks = np.asarray(info["clicks"], dtype=bool).reshape(batch, k)
        return np.where(clicks.any(axis=1), clicks.argmax(axis=1), -1)
    raise ValueError("bandit update needs info['chosen'] or info['clicks']")


def _slate_labels(chosen: np.ndarray, value: np.ndarray, k: int) -> np.ndarray:
    """Per shown item: ``value`` if it was the consumed one, else 0 (float64 (B, K))."""
    labels = np.zeros((len(chosen), k))
    rows = np.flatnonzero(chosen >= 0)
    labels[rows, chosen[rows]] = value[rows]
    return labels


class EpsilonGreedyAgent(LinearBandit):
    """ε-greedy on the ridge estimate: with probability ε a user's slate is uniformly random."""

    name = "egreedy"

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        scores = self.mean(self.contexts(obs))
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
        width = np.sqrt(np.maximum(((x @ self.A_inv) * x).sum(-1), 0.0))
        return x @ self.theta + self.config.alpha * np.sqrt(self.sigma2) * width

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        return top_k(self.index(self.contexts(obs)), self.slate_size)


class ThompsonAgent(LinearBandit):
    """Linear Thompson sampling: one posterior draw θ̃_b per user and step."""

    name = "thompson"

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        x = self.contexts(obs).astype(np.float64)
        batch, f = x.shape[0], x.shape[-1]
        z = self.rng.standard_normal((f, batch))
        # θ̃ = θ + v σ̂ L⁻ᵀ z has covariance v² σ̂² A⁻¹ when A = L Lᵀ.
        noise = np.linalg.solve(self.chol.T, z).T * (self.config.v * np.sqrt(self.sigma2))
        theta = self.theta[None, :] + noise  # (B, F)
        return top_k(np.matmul(x, theta[:, :, None])[..., 0], self.slate_size)
