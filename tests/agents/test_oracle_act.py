"""The documented call ``agent.act(obs)`` works for the oracle (DESIGN §9): it reads the ground
truth from the env it was made with, and refuses an observation that env is not showing."""

from __future__ import annotations

import driftrec.envs  # noqa: F401  (registers the ids)
import gymnasium as gym
import numpy as np
import pytest
from driftrec.agents import make_agent

KW = {"encoder": "hashing", "num_candidates": 12, "slate_size": 3}


@pytest.mark.parametrize("vector", [False, True])
def test_oracle_act_without_info_equals_act_with_info(vector: bool) -> None:
    if vector:
        env = gym.make_vec("driftrec/News-v0", num_envs=3,
                           vectorization_mode="vector_entry_point", **KW)
    else:
        env = gym.make("driftrec/News-v0", **KW)
    agent = make_agent("oracle", env, seed=0)
    obs, info = env.reset(seed=5)
    for _ in range(4):
        slate = agent.act(obs)
        np.testing.assert_array_equal(slate, agent.act(obs, info))
        values = np.atleast_2d(info["candidate_values"])
        top = np.argsort(-values, axis=1, kind="stable")[:, :3]
        np.testing.assert_array_equal(np.atleast_2d(slate), top)
        obs, _, terminated, truncated, info = env.step(slate)
        if not vector and (terminated or truncated):
            obs, info = env.reset()
    env.close()


def test_oracle_act_refuses_a_stale_observation() -> None:
    env = gym.make("driftrec/News-v0", **KW)
    agent = make_agent("oracle", env, seed=0)
    stale, _ = env.reset(seed=1)
    env.step(agent.act(stale))
    with pytest.raises(ValueError, match=r"obs\['candidate_ids'\] are not the candidates the env"):
        agent.act(stale)
    env.close()
