"""Reference rankers: random, most-popular, quality estimate, embedding-greedy, oracle-myopic.

They bracket the learners: random and popular are the floor a personalised learner must clear;
embedding-greedy is the strongest non-learning personalised ranker (what "show more of what they
consumed" gives); oracle-myopic reads the hidden state and maximises the immediate expected
reward — an upper reference for one step, and exactly the policy a long-horizon learner should
beat when myopia hurts (video: clickbait burns the budget).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from .base import Agent, AgentConfig, Obs, top_k
from .features import batch_dot, history_embedding


def consumed_items(obs: Obs, action: np.ndarray, info: Mapping[str, Any]) -> tuple[np.ndarray, ...]:
    """Catalog ids (B,) of the consumed items and a mask (B,) of users who consumed one.

    Reads ``info["chosen"]`` (position in the slate, −1 for none); falls back to the first
    clicked position in ``info["clicks"]``.
    """
    batch = action.shape[0]
    if "chosen" in info:
        chosen = np.asarray(info["chosen"], dtype=np.int64).reshape(batch)
    elif "clicks" in info:
        clicks = np.asarray(info["clicks"], dtype=bool).reshape(batch, -1)
        chosen = np.where(clicks.any(axis=1), clicks.argmax(axis=1), -1)
    else:
        raise ValueError("update needs info['chosen'] or info['clicks'] to know what was consumed")
    valid = chosen >= 0
    pos = np.take_along_axis(action, np.clip(chosen, 0, None)[:, None], axis=1)[:, 0]
    ids = np.take_along_axis(obs["candidate_ids"], pos[:, None], axis=1)[:, 0]
    return ids, valid


@dataclass(frozen=True)
class RandomConfig(AgentConfig):
    """No options: a uniformly random slate of K distinct positions."""


class RandomAgent(Agent):
    """Uniformly random K distinct candidates per user (the floor)."""

    name = "random"
    Config = RandomConfig

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        scores = self.rng.random(obs["candidate_ids"].shape)
        return top_k(scores, self.slate_size)


@dataclass(frozen=True)
class PopularConfig(AgentConfig):
    """``prior_weight``: how many consumptions the public popularity prior (in [0, 1]) is worth."""

    prior_weight: float = 5.0

    def __post_init__(self) -> None:
        if self.prior_weight < 0:
            raise ValueError(f"prior_weight must be >= 0, got {self.prior_weight}")


class PopularAgent(Agent):
    """Most consumed items so far across all users (running counts), popularity prior first."""

    name = "popular"
    Config = PopularConfig

    def __init__(self, env: Any, seed: int | None = None, config: PopularConfig | None = None):
        super().__init__(env, seed, config)
        self.counts = np.zeros(self.spec.num_items, dtype=np.float64)

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        scores = self.counts[obs["candidate_ids"]] + self.config.prior_weight * obs[
            "candidate_popularity"
        ].astype(np.float64)
        return top_k(scores, self.slate_size)

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        ids, valid = consumed_items(obs, action, info)
        np.add.at(self.counts, ids[valid], 1.0)
        return {"consumed": float(valid.mean())}

    def state_dict(self) -> dict[str, Any]:
        return {"counts": torch.from_numpy(self.counts.copy())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.counts = state["counts"].numpy().astype(np.float64)


@dataclass(frozen=True)
class QualityConfig(AgentConfig):
    """``prior_count``: pseudo-observations of the global mean rating each item starts with."""

    prior_count: float = 2.0
    popularity_tiebreak: float = 1e-3

    def __post_init__(self) -> None:
        if self.prior_count <= 0:
            raise ValueError(f"prior_count must be > 0, got {self.prior_count}")


class QualityAgent(Agent):
    """Highest estimated quality: shrunk running mean of the ratings each item received.

    True quality is hidden; ratings of consumed items are the public signal of it. Shrinking
    toward the global mean keeps one lucky rating from dominating.
    """

    name = "quality"
    Config = QualityConfig

    def __init__(self, env: Any, seed: int | None = None, config: QualityConfig | None = None):
        super().__init__(env, seed, config)
        self.rating_sum = np.zeros(self.spec.num_items, dtype=np.float64)
        self.count = np.zeros(self.spec.num_items, dtype=np.float64)

    def estimate(self, ids: np.ndarray) -> np.ndarray:
        total = self.count.sum()
        prior = self.rating_sum.sum() / total if total > 0 else 0.0
        c = self.config.prior_count
        return (self.rating_sum[ids] + c * prior) / (self.count[ids] + c)

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        scores = self.estimate(obs["candidate_ids"]) + self.config.popularity_tiebreak * obs[
            "candidate_popularity"
        ].astype(np.float64)
        return top_k(scores, self.slate_size)

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        if "rating" not in info:
            raise ValueError("the quality agent needs info['rating'] in update")
        ids, valid = consumed_items(obs, action, info)
        rating = np.asarray(info["rating"], dtype=np.float64).reshape(-1)
        np.add.at(self.rating_sum, ids[valid], rating[valid])
        np.add.at(self.count, ids[valid], 1.0)
        return {"mean_rating": float(rating[valid].mean()) if valid.any() else 0.0}

    def state_dict(self) -> dict[str, Any]:
        return {
            "rating_sum": torch.from_numpy(self.rating_sum.copy()),
            "count": torch.from_numpy(self.count.copy()),
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.rating_sum = state["rating_sum"].numpy().astype(np.float64)
        self.count = state["count"].numpy().astype(np.float64)


@dataclass(frozen=True)
class GreedyConfig(AgentConfig):
    """``decay``: weight of each older history item relative to the next newer one."""

    decay: float = 0.8

    def __post_init__(self) -> None:
        if not 0 < self.decay <= 1:
            raise ValueError(f"decay must be in (0, 1], got {self.decay}")


class GreedyAgent(Agent):
    """Embedding-greedy: rank by cosine to the decayed mean of consumed item embeddings.

    Users with no history yet are ranked by their public profile embedding.
    """

    name = "greedy"
    Config = GreedyConfig

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        user, _ = history_embedding(obs, self.spec.item_embeddings, self.config.decay)
        scores = batch_dot(user, np.asarray(obs["candidate_embeddings"], dtype=np.float32))
        return top_k(scores, self.slate_size)


ORACLE_KEYS = ("candidate_values", "candidate_utilities")


@dataclass(frozen=True)
class OracleConfig(AgentConfig):
    """``key``: rank by ``candidate_values`` (immediate expected reward) or true utilities."""

    key: str = "candidate_values"

    def __post_init__(self) -> None:
        if self.key not in ORACLE_KEYS:
            raise ValueError(f"key must be one of {ORACLE_KEYS}, got {self.key!r}")


class OracleMyopicAgent(Agent):
    """Oracle-myopic — READS HIDDEN STATE: top-K immediate expected reward from ``info``.

    An upper reference for one-step ranking, not a deployable recommender. The documented call
    ``act(obs)`` works: a driftrec env's ground truth is read from the env the agent was made
    with, after checking that ``obs`` shows that env's current candidates (a stale or foreign
    observation is an error, never a silently wrong ranking). ``act(obs, info)`` with the
    reset/step info, or the info last received in ``update``, serve for other envs.
    """

    name = "oracle"
    Config = OracleConfig
    reads_hidden_state = True

    def __init__(self, env: Any, seed: int | None = None, config: OracleConfig | None = None):
        super().__init__(env, seed, config)
        self._cached: np.ndarray | None = None
        unwrapped = getattr(env, "unwrapped", env)
        self._engine = getattr(unwrapped, "engine", None)
        # A driftrec env computes candidate_values only when asked (ScenarioConfig.oracle_info).
        enable = getattr(unwrapped, "enable_oracle_info", None)
        if self.config.key == "candidate_values" and callable(enable):
            enable()

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        values = info.get(self.config.key) if info else None
        if values is None:
            values = self._values_from_env(obs)
        if values is None:
            values = self._cached
        if values is None:
            raise ValueError(
                f"oracle-myopic needs info[{self.config.key!r}] for these candidates: call "
                "act(obs, info) with the info returned by reset/step (a driftrec env reports "
                "candidate_values when made with oracle_info=True)"
            )
        values = np.asarray(values, dtype=np.float64)
        if values.shape != obs["candidate_ids"].shape:
            raise ValueError(
                f"info[{self.config.key!r}] has shape {values.shape}; expected "
                f"(B, N) = {obs['candidate_ids'].shape}"
            )
        return top_k(values, self.slate_size)

    def _values_from_env(self, obs: Obs) -> np.ndarray | None:
        """The env's ground truth for its current candidates, if ``obs`` shows them."""
        engine = self._engine
        if engine is None or not callable(getattr(engine, "candidate_info", None)):
            return None
        truth = engine.candidate_info()
        current = np.asarray(engine.observation()["candidate_ids"])
        if self.config.key not in truth or current.shape != obs["candidate_ids"].shape:
            return None
        if not np.array_equal(current, obs["candidate_ids"]):
            raise ValueError(
                "oracle-myopic: obs['candidate_ids'] are not the candidates the env it was made "
                "with shows now (a stale or foreign observation); pass act(obs, info) with the "
                "info that came with this observation"
            )
        value = truth[self.config.key]
        return np.asarray(value.cpu() if hasattr(value, "cpu") else value, dtype=np.float64)

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        if self.config.key in info:
            self._cached = np.asarray(info[self.config.key], dtype=np.float64)
        return {}
