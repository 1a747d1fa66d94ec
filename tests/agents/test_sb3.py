"""PPO and A2C with the item-wise actor through the native vector env (agents/sb3.py)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from driftrec.agents import make_agent

#: 128 batched steps = 4,096 user-steps, about a second of CPU each.
LEARN = {"ppo": {"n_steps": 16, "batch_size": 256}, "a2c": {}}


@pytest.fixture(autouse=True, scope="module")
def _one_torch_thread():
    """Small networks on a shared 2-core machine: a second thread only spins (10x the CPU)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def small_env():
    import driftrec.envs  # noqa: F401

    env = gymnasium.make_vec("driftrec/Video-v0", num_envs=4,
                             vectorization_mode="vector_entry_point", encoder="hashing",
                             num_candidates=12, slate_size=3)
    yield env
    env.close()


@pytest.mark.parametrize("name", ["ppo", "a2c"])
def test_itemwise_learner_beats_random_by_a_clear_margin(name, easy_env, evaluate):
    """On the easy scenario of conftest (SB3's test_identity style): 25% above random."""
    random_reward = evaluate(make_agent("random", easy_env, seed=0), easy_env)
    agent = make_agent(name, easy_env, seed=0, **LEARN[name])
    agent.fit(easy_env, 128, seed=1)
    assert evaluate(agent, easy_env) > 1.25 * random_reward


def _play(agent, env, steps: int, seed: int = 3):
    """Act and log ``steps`` steps; return the next observation and info."""
    obs, info = env.reset(seed=seed)
    for _ in range(steps):
        action = agent.act(obs, info)
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, terminated, truncated, info)
        obs = next_obs
    return obs, info


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("name", ["ppo", "a2c"])
def test_save_load_round_trip_gives_identical_actions_mid_session(name, deterministic,
                                                                  small_env, tmp_path):
    kw = {"n_steps": 4, "deterministic": deterministic}
    agent = make_agent(name, small_env, seed=0, **kw)
    agent.fit(small_env, 8, seed=1)
    obs, info = _play(agent, small_env, 5)  # logged statistics and session memory in use
    agent.save(tmp_path / "a.pt")
    clone = make_agent(name, small_env, seed=7, **kw)
    clone.load(tmp_path / "a.pt")
    np.testing.assert_array_equal(clone.features.stats.shown, agent.features.stats.shown)
    np.testing.assert_array_equal(clone.memory.shown, agent.memory.shown)
    for _ in range(3):
        action = agent.act(obs, info)
        np.testing.assert_array_equal(clone.act(obs, info), action)
        obs, _, _, _, info = small_env.step(action)


def test_training_is_reproducible_from_the_seed(small_env):
    def train():
        agent = make_agent("ppo", small_env, seed=0, n_steps=4, batch_size=8)
        agent.fit(small_env, 8, seed=1)
        agent.fit(small_env, 8)  # continues the running sessions
        return agent.state_dict()

    first, second = train(), train()
    assert first["policy"].keys() == second["policy"].keys()
    for key, value in first["policy"].items():
        torch.testing.assert_close(second["policy"][key], value, rtol=0, atol=0)
    np.testing.assert_array_equal(first["stats_shown"].numpy(), second["stats_shown"].numpy())


def test_fit_in_chunks_counts_every_user_step(small_env):
    agent = make_agent("a2c", small_env, seed=0, n_steps=2)
    agent.fit(small_env, 4, seed=1)
    assert agent.fit(small_env, 6) == {"user_steps": 40.0}  # (4 + 6) batched steps × 4 users
    assert agent.features.stats.shown.sum() == 40 * 3  # every training slate was logged


def test_update_logs_the_shown_and_consumed_items(small_env):
    agent = make_agent("ppo", small_env, seed=0)
    _play(agent, small_env, 3)
    stats = agent.features.stats
    assert stats.shown.sum() == 3 * 4 * 3  # steps × users × K
    assert stats.consumed.sum() <= 3 * 4 and stats.rating_sum.sum() >= stats.consumed.sum()
