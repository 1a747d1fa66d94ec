"""Every agent through the real vector env of every scenario (hashing encoder, small B)."""

from __future__ import annotations

import gymnasium
import numpy as np
import pytest
import torch
from driftrec.agents import AGENTS, make_agent

SCENARIOS = {"video": "driftrec/Video-v0", "news": "driftrec/News-v0",
             "shopping": "driftrec/Shopping-v0"}
SMALL = {"num_candidates": 20, "slate_size": 4}
#: Small-buffer settings so that learners update within a few steps.
FAST = {
    "slateq": {"warmup": 8, "batch_size": 16},
    "transformer": {"warmup": 8, "batch_size": 16},
    "ppo": {"n_steps": 4, "batch_size": 16, "n_epochs": 1},
    "a2c": {"n_steps": 2},
    "dqn": {"learning_starts": 8, "batch_size": 16},
}


@pytest.fixture(scope="module", params=sorted(SCENARIOS))
def env(request):
    import driftrec.envs  # noqa: F401  (registers the ids)

    env = gymnasium.make_vec(SCENARIOS[request.param], num_envs=6,
                             vectorization_mode="vector_entry_point", encoder="hashing", **SMALL)
    yield env
    env.close()


def _params(agent) -> list[np.ndarray]:
    state = agent.state_dict()
    out = []

    def walk(x):
        if isinstance(x, torch.Tensor):
            out.append(x.detach().numpy().copy())
        elif isinstance(x, dict):
            for v in x.values():
                walk(v)

    walk(state)
    return out


@pytest.mark.parametrize("name", sorted(AGENTS))
def test_agent_runs_through_the_vector_env_and_learners_change(name, env):
    agent = make_agent(name, env, seed=0, **FAST.get(name, {}))
    before = _params(agent)
    if name in ("ppo", "a2c", "dqn"):
        agent.fit(env, 12, seed=1)
    obs, info = env.reset(seed=0)
    for _ in range(12):
        action = agent.act(obs, info)
        assert action.shape == (6, 4) and action.dtype == np.int64
        assert all(len(set(row)) == 4 for row in action.tolist())
        next_obs, reward, terminated, truncated, info = env.step(action)
        agent.update(obs, action, reward, next_obs, terminated, truncated, info)
        obs = next_obs
    after = _params(agent)
    if AGENTS[name].learns:
        assert any(not np.array_equal(a, b) for a, b in zip(before, after)), name
    else:
        assert all(np.array_equal(a, b) for a, b in zip(before, after))


def test_agent_built_for_another_candidate_count_rejects_the_observation():
    import driftrec.envs  # noqa: F401

    def make(n: int):
        return gymnasium.make_vec("driftrec/Video-v0", num_envs=2,
                                  vectorization_mode="vector_entry_point", encoder="hashing",
                                  num_candidates=n, slate_size=4)

    other, env = make(30), make(20)
    agent = make_agent("greedy", other)
    obs, _ = env.reset(seed=0)
    with pytest.raises(ValueError, match=r"observation\['candidate_ids'\] has shape \(2, 20\); "
                                         r"expected \(B, N=30\)"):
        agent.act(obs)
    other.close()
    env.close()


@pytest.mark.parametrize("name", ["ppo", "dqn"])
def test_sb3_save_load_round_trip_gives_identical_actions(name, env, tmp_path):
    agent = make_agent(name, env, seed=0, **FAST.get(name, {}))
    agent.fit(env, 6, seed=1)
    agent.save(tmp_path / "a.pt")
    clone = make_agent(name, env, seed=5, **FAST.get(name, {}))
    clone.load(tmp_path / "a.pt")
    obs, info = env.reset(seed=3)
    np.testing.assert_array_equal(agent.act(obs, info), clone.act(obs, info))
