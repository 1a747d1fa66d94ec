"""Each learner, trained briefly with a fixed seed, beats random on a tiny easy scenario.

The scenario: ``video`` with 20 candidates, slates of 3 and no interest drift, satiation or
exogenous drift — what is left to learn is which items are worth showing (quality refills the
session budget; clickbait burns it). Every agent is evaluated on the same users (reset seed 0)
after training on other users (seed 1); the measure is the mean reward per user-step.
"""

from __future__ import annotations

import pytest
from driftrec.agents import make_agent

TRAIN = {
    "popular": (20, {}), "quality": (20, {}), "egreedy": (20, {}), "linucb": (20, {}),
    "thompson": (20, {}), "slateq": (40, {"warmup": 128}),
    "transformer": (30, {"warmup": 128, "refit_every": 4}),
    "dqn": (60, {"learning_starts": 256}),
    "ppo": (64, {"n_steps": 8, "batch_size": 128}), "a2c": (128, {}),
}
SLOW = {"slateq", "transformer", "ppo", "a2c", "dqn"}


@pytest.fixture(scope="module")
def random_reward(easy_env, evaluate) -> float:
    return evaluate(make_agent("random", easy_env, seed=0), easy_env)


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in TRAIN])
def test_learner_beats_random_on_a_tiny_easy_scenario(name, easy_env, random_reward, evaluate):
    steps, kwargs = TRAIN[name]
    agent = make_agent(name, easy_env, seed=0, **kwargs)
    agent.fit(easy_env, steps, seed=1)
    assert evaluate(agent, easy_env) > random_reward
