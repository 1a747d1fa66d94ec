"""The shared interface: registry, observation checks, top-K, save/load on synthetic data."""

from __future__ import annotations

import numpy as np
import pytest
from driftrec.agents import AGENTS, EnvSpec, check_obs, make_agent, top_k

NON_SB3 = ["random", "popular", "quality", "greedy", "oracle", "egreedy", "linucb", "thompson",
           "slateq", "transformer"]


def test_registry_lists_every_documented_agent_with_a_description():
    expected = {"random", "popular", "quality", "greedy", "oracle", "egreedy", "linucb",
                "thompson", "slateq", "ppo", "a2c", "dqn", "transformer"}
    assert set(AGENTS) == expected
    assert all(spec.description and "\n" not in spec.description for spec in AGENTS.values())


def test_unknown_agent_names_the_available_ones(spec):
    with pytest.raises(ValueError, match=r"unknown agent 'nope'; available agents: \['a2c'"):
        make_agent("nope", spec)


def test_unknown_option_lists_valid_options(spec):
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['alpah'\] for BanditConfig"):
        make_agent("linucb", spec, alpah=2.0)


def test_invalid_option_value_is_rejected(spec):
    with pytest.raises(ValueError, match="epsilon"):
        make_agent("egreedy", spec, epsilon=1.5)


def test_top_k_returns_distinct_best_positions_with_stable_ties():
    scores = np.array([[0.1, 0.9, 0.5, 0.9], [np.nan, 1.0, 2.0, 0.0]])
    assert top_k(scores, 3).tolist() == [[1, 3, 2], [2, 1, 3]]


@pytest.mark.parametrize("name", NON_SB3)
def test_agent_returns_k_distinct_in_range_positions(name, spec, make_obs, make_info):
    agent = make_agent(name, spec, seed=0)
    obs = make_obs(batch=6)
    slate = agent.act(obs, make_info(batch=6))
    assert slate.shape == (6, spec.slate_size) and slate.dtype == np.int64
    assert ((slate >= 0) & (slate < spec.num_candidates)).all()
    assert all(len(set(row)) == spec.slate_size for row in slate.tolist())


@pytest.mark.parametrize("name", NON_SB3)
def test_single_user_observation_gives_a_single_slate(name, spec, make_obs, make_info):
    agent = make_agent(name, spec, seed=0)
    obs = {k: v[0] for k, v in make_obs(batch=1).items()}
    info = {k: v[0] for k, v in make_info(batch=1).items()}
    assert agent.act(obs, info).shape == (spec.slate_size,)


def test_missing_key_is_a_clear_error(spec, make_obs):
    obs = make_obs()
    del obs["history_ids"]
    with pytest.raises(ValueError, match=r"observation is missing keys \['history_ids'\]"):
        check_obs(obs, spec)


def test_wrong_candidate_count_names_the_expected_shape(spec, make_obs):
    obs = make_obs()
    obs["candidate_embeddings"] = obs["candidate_embeddings"][:, :5]
    with pytest.raises(ValueError, match=r"candidate_embeddings'\] has shape \(4, 5, 8\); "
                                         r"expected \(B, N=12, d=8\)"):
        make_agent("greedy", spec).act(obs)


def test_flat_observation_is_rejected_with_a_hint(spec):
    with pytest.raises(TypeError, match="not the FlatObservation Box"):
        make_agent("random", spec).act(np.zeros((4, 100), dtype=np.float32))


def test_action_with_wrong_slate_size_is_rejected(spec, make_obs, make_info):
    agent = make_agent("linucb", spec)
    obs = make_obs()
    bad = np.zeros((4, spec.slate_size + 1), dtype=np.int64)
    with pytest.raises(ValueError, match=r"expected \(B=4, K=3\)"):
        agent.update(obs, bad, np.zeros(4), obs, np.zeros(4, bool), np.zeros(4, bool), make_info())


def test_spec_rejects_slate_larger_than_candidates(spec):
    with pytest.raises(ValueError, match="slate_size K=20 exceeds num_candidates N=12"):
        EnvSpec(12, 20, 5, 8, spec.item_embeddings, spec.category_ids, 4)


@pytest.mark.parametrize("name", NON_SB3)
def test_save_load_round_trip_gives_identical_actions(name, spec, make_obs, make_info, tmp_path):
    agent = make_agent(name, spec, seed=3)
    obs, info = make_obs(batch=8, seed=1), make_info(batch=8)
    for step in range(3):
        action = agent.act(obs, info)
        nxt = make_obs(batch=8, seed=step + 2)
        agent.update(obs, action, np.ones(8), nxt, np.zeros(8, bool), np.zeros(8, bool), info)
        obs = nxt
    agent.save(tmp_path / "agent.pt")
    clone = make_agent(name, spec, seed=99)
    clone.load(tmp_path / "agent.pt")
    np.testing.assert_array_equal(agent.act(obs, info), clone.act(obs, info))
    np.testing.assert_array_equal(agent.act(obs, info), clone.act(obs, info))


def test_loading_another_agents_checkpoint_fails(spec, tmp_path):
    make_agent("linucb", spec).save(tmp_path / "a.pt")
    with pytest.raises(ValueError, match="holds agent 'linucb', not 'thompson'"):
        make_agent("thompson", spec).load(tmp_path / "a.pt")
