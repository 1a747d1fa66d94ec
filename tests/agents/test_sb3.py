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


def test_observation_without_the_expected_keys_is_a_clear_error(small_env):
    agent = make_agent("ppo", small_env, seed=0)
    obs, _ = small_env.reset(seed=0)
    del obs["history_ids"]
    with pytest.raises(ValueError, match=r"observation is missing keys \['history_ids'\]"):
        agent.act(obs)


def test_flat_box_observation_is_refused_with_the_reason(small_env):
    agent = make_agent("a2c", small_env, seed=0)
    with pytest.raises(TypeError, match="agents take the driftrec Dict observation"):
        agent.act(np.zeros((4, 10), dtype=np.float32))


def test_update_without_the_consumed_position_is_a_clear_error(small_env):
    agent = make_agent("ppo", small_env, seed=0)
    obs, _ = small_env.reset(seed=0)
    action = agent.act(obs)
    next_obs, reward, terminated, truncated, info = small_env.step(action)
    del info["chosen"]
    with pytest.raises(ValueError, match=r"logs feedback from info\['chosen'\] and "
                                         r"info\['rating'\]"):
        agent.update(obs, action, reward, next_obs, terminated, truncated, info)


def test_a_single_env_is_refused_with_the_vector_env_to_use():
    import driftrec.envs  # noqa: F401

    env = gymnasium.make("driftrec/Video-v0", encoder="hashing", num_candidates=12, slate_size=3)
    with pytest.raises(ValueError, match=r"ppo needs the native vector env \(gymnasium.make_vec\)"):
        make_agent("ppo", env)


@pytest.mark.parametrize(("name", "kwargs", "error", "match"), [
    ("ppo", {"hiden": 32}, TypeError, r"unknown option\(s\) \['hiden'\] for PPOConfig"),
    ("a2c", {"batch_size": 64}, TypeError, r"unknown option\(s\) \['batch_size'\] for A2CConfig"),
    ("ppo", {"gamma": 1.5}, ValueError, r"gamma=1.5; expected in \[0, 1\]"),
    ("ppo", {"n_steps": 0}, ValueError, r"n_steps=0; expected >= 1"),
    ("ppo", {"clip_range": 0.0}, ValueError, r"clip_range=0.0; expected > 0"),
    ("a2c", {"learning_rate": -1e-3}, ValueError, r"learning_rate=-0.001; expected > 0"),
    ("a2c", {"net_arch": ()}, ValueError, r"net_arch=\(\); expected a non-empty tuple"),
    ("ppo", {"net_arch": (64, 0)}, ValueError, r"net_arch=\(64, 0\); expected a non-empty"),
    ("ppo", {"window": 0}, ValueError, r"window=0; expected >= 1"),
    ("a2c", {"proj_dim": 0}, ValueError, r"proj_dim=0; expected >= 1"),
    ("ppo", {"ent_coef": -0.1}, ValueError, r"ent_coef=-0.1; expected >= 0"),
])
def test_bad_options_are_rejected_before_anything_is_built(name, kwargs, error, match,
                                                          small_env):
    with pytest.raises(error, match=match):
        make_agent(name, small_env, seed=0, **kwargs)


def test_an_agent_for_another_user_count_refuses_to_train(small_env):
    import driftrec.envs  # noqa: F401

    other = gymnasium.make_vec("driftrec/Video-v0", num_envs=2,
                               vectorization_mode="vector_entry_point", encoder="hashing",
                               num_candidates=12, slate_size=3)
    agent = make_agent("ppo", small_env, seed=0)
    with pytest.raises(ValueError, match=r"ppo was built for B=4 users; got an env with B=2"):
        agent.fit(other, 4)
    other.close()
