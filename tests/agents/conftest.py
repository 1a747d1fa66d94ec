"""Fixtures for the agent tests: a synthetic spec/observation (no env) and tiny real envs."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from driftrec.agents import EnvSpec

N, K, H, D, M, C = 12, 3, 5, 8, 40, 4


@pytest.fixture(scope="session")
def spec() -> EnvSpec:
    """A hand-sized spec: N=12 candidates, K=3, H=5, d=8, M=40 items in C=4 categories."""
    rng = np.random.default_rng(0)
    table = rng.normal(size=(M, D)).astype(np.float32)
    table /= np.linalg.norm(table, axis=1, keepdims=True)
    return EnvSpec(
        num_candidates=N, slate_size=K, history_length=H, embedding_dim=D,
        item_embeddings=table, category_ids=np.arange(M) % C, num_categories=C,
    )


@pytest.fixture(scope="session")
def make_obs(spec: EnvSpec) -> Callable[..., dict[str, np.ndarray]]:
    """Synthetic batched observations following docs/internals.md (history length per user)."""

    def build(batch: int = 4, seed: int = 0, history: list[int] | None = None):
        rng = np.random.default_rng(seed)
        lengths = history if history is not None else list(rng.integers(0, H + 1, size=batch))
        ids = np.stack([rng.choice(M, size=N, replace=False) for _ in range(batch)])
        hist = np.full((batch, H), -1, dtype=np.int64)
        mask = np.zeros((batch, H), dtype=np.int8)
        for b, n in enumerate(lengths):
            hist[b, :n] = rng.choice(M, size=n, replace=False)
            mask[b, :n] = 1
        resp = (rng.random((batch, H, 2)) * mask[..., None]).astype(np.float32)
        profile = rng.normal(size=(batch, D)).astype(np.float32)
        profile /= np.linalg.norm(profile, axis=1, keepdims=True)
        return {
            "candidate_ids": ids.astype(np.int64),
            "candidate_embeddings": spec.item_embeddings[ids],
            "candidate_categories": spec.category_ids[ids].astype(np.int64),
            "candidate_popularity": rng.random((batch, N)).astype(np.float32),
            "history_ids": hist,
            "history_responses": resp,
            "history_mask": mask,
            "profile_embedding": profile,
            "step": np.zeros((batch, 1), dtype=np.int64),
        }

    return build


@pytest.fixture(scope="session")
def make_info() -> Callable[..., dict[str, np.ndarray]]:
    """Synthetic step info: user b consumed slate position b % (K+1) (K = none)."""

    def build(batch: int = 4, seed: int = 0):
        rng = np.random.default_rng(seed)
        chosen = np.array([b % (K + 1) for b in range(batch)])
        chosen[chosen == K] = -1
        clicks = np.zeros((batch, K), dtype=bool)
        clicks[chosen >= 0, chosen[chosen >= 0]] = True
        return {
            "chosen": chosen,
            "clicks": clicks,
            "rating": np.where(chosen >= 0, rng.integers(1, 6, size=batch), 0).astype(np.float32),
            "engagement": (chosen >= 0).astype(np.float32),
            "candidate_values": rng.random((batch, N)).astype(np.float32),
            "candidate_utilities": rng.random((batch, N)).astype(np.float32),
        }

    return build


#: ``video`` with 20 candidates, slates of 3 and no interest drift, satiation or exogenous drift:
#: what is left to learn is which items are worth showing (quality refills the session budget;
#: clickbait burns it). The learnability tests train on reset seed 1 and evaluate on seed 0.
EASY = {"num_candidates": 20, "slate_size": 3, "drift_enabled": False,
        "satiation_enabled": False, "exogenous_enabled": False}
EASY_USERS, EASY_EVAL_STEPS = 32, 40


@pytest.fixture(scope="module")
def easy_env():
    """The easy ``video`` vector env of ``EASY_USERS`` users (hashing encoder)."""
    import driftrec.envs  # noqa: F401
    import gymnasium

    env = gymnasium.make_vec("driftrec/Video-v0", num_envs=EASY_USERS,
                             vectorization_mode="vector_entry_point", encoder="hashing", **EASY)
    yield env
    env.close()


def mean_reward(agent, env, steps: int = EASY_EVAL_STEPS) -> float:
    """Mean reward per user-step over ``steps`` steps of the seed-0 users, learning online."""
    obs, info = env.reset(seed=0)
    total = 0.0
    for _ in range(steps):
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, terminated, truncated, info)
        total += float(np.mean(reward))
        obs = next_obs
    return total / steps


@pytest.fixture(scope="session")
def evaluate() -> Callable[..., float]:
    """``mean_reward`` as a fixture (test modules are not a package and cannot import it)."""
    return mean_reward
