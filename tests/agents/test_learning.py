"""Each learner, trained briefly with a fixed seed, beats random on a tiny easy scenario.

The scenario: ``video`` with 20 candidates, slates of 3 and no interest drift, satiation or
exogenous drift — what is left to learn is which items are worth showing (quality refills the
session budget; clickbait burns it). Every agent is evaluated on the same users (reset seed 0)
after training on other users (seed 1); the measure is the mean reward per user-step.
"""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
from driftrec.agents import make_agent

EASY = {"num_candidates": 20, "slate_size": 3, "drift_enabled": False,
        "satiation_enabled": False, "exogenous_enabled": False}
USERS, EVAL_STEPS = 32, 40
TRAIN = {
    "popular": (20, {}), "quality": (20, {}), "egreedy": (20, {}), "linucb": (20, {}),
    "thompson": (20, {}), "slateq": (40, {"warmup": 128}),
    "transformer": (30, {"warmup": 128, "refit_every": 4}),
    "dqn": (60, {"learning_starts": 256}),
    "ppo": (64, {"n_steps": 8, "batch_size": 128}), "a2c": (128, {}),
}
SLOW = {"slateq", "transformer", "ppo", "a2c", "dqn"}


@pytest.fixture(scope="module")
def easy_env():
    import driftrec.envs  # noqa: F401

    env = gymnasium.make_vec("driftrec/Video-v0", num_envs=USERS,
                             vectorization_mode="vector_entry_point", encoder="hashing", **EASY)
    yield env
    env.close()


def _mean_reward(agent, env) -> float:
    obs, info = env.reset(seed=0)
    total = 0.0
    for _ in range(EVAL_STEPS):
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, terminated, truncated, info)
        total += float(np.mean(reward))
        obs = next_obs
    return total / EVAL_STEPS


@pytest.fixture(scope="module")
def random_reward(easy_env) -> float:
    return _mean_reward(make_agent("random", easy_env, seed=0), easy_env)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in TRAIN])
def test_learner_beats_random_on_a_tiny_easy_scenario(name, easy_env, random_reward):
    steps, kwargs = TRAIN[name]
    agent = make_agent(name, easy_env, seed=0, **kwargs)
    agent.fit(easy_env, steps, seed=1)
    assert _mean_reward(agent, easy_env) > random_reward
