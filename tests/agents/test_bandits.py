"""Linear bandits: the vectorised index and update against direct formulas on small cases."""

from __future__ import annotations

import numpy as np
from driftrec.agents import make_agent


def _step(agent, obs, info, reward):
    action = agent.act(obs, info)
    agent.update(obs, action, reward, obs, np.zeros(len(reward), bool),
                 np.zeros(len(reward), bool), info)
    return action


def test_linucb_index_equals_direct_formula(spec, make_obs, make_info):
    agent = make_agent("linucb", spec, seed=0, alpha=0.7, proj_dim=3)
    obs, info = make_obs(batch=4, seed=1), make_info(batch=4)
    _step(agent, obs, info, np.array([1.0, 2.0, 0.5, 0.0]))
    x = agent.contexts(obs).astype(np.float64)
    a_inv = np.linalg.inv(agent.A)
    theta = a_inv @ agent.b
    b, n = 2, 5
    direct = x[b, n] @ theta + 0.7 * np.sqrt(agent.sigma2) * np.sqrt(x[b, n] @ a_inv @ x[b, n])
    np.testing.assert_allclose(agent.index(x)[b, n], direct, rtol=1e-9)


def test_ridge_update_equals_direct_sums_over_shown_items(spec, make_obs, make_info):
    agent = make_agent("egreedy", spec, seed=0, epsilon=0.0, ridge=2.0, proj_dim=3)
    obs, info = make_obs(batch=4, seed=2), make_info(batch=4)
    reward = np.array([3.0, 1.0, 2.0, 0.0])
    x = agent.contexts(obs).astype(np.float64)  # before the step's feedback enters the stats
    action = _step(agent, obs, info, reward)
    a = 2.0 * np.eye(x.shape[-1])
    bvec = np.zeros(x.shape[-1])
    for b in range(4):  # the slow, obvious loop the agent avoids
        for k in range(spec.slate_size):
            xi = x[b, action[b, k]]
            y = reward[b] if info["chosen"][b] == k else 0.0
            a += np.outer(xi, xi)
            bvec += xi * y
    np.testing.assert_allclose(agent.A, a, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(agent.theta, np.linalg.solve(a, bvec), rtol=1e-5, atol=1e-7)


def test_update_changes_parameters(spec, make_obs, make_info):
    for name in ("egreedy", "linucb", "thompson"):
        agent = make_agent(name, spec, seed=0)
        before = agent.A.copy()
        _step(agent, make_obs(), make_info(), np.ones(4))
        assert not np.allclose(agent.A, before), name


def test_thompson_draws_depend_on_its_seed_only(spec, make_obs, make_info):
    obs, info = make_obs(batch=16, seed=3), make_info(batch=16)
    a1 = make_agent("thompson", spec, seed=5).act(obs, info)
    a2 = make_agent("thompson", spec, seed=5).act(obs, info)
    np.random.seed(0)  # the global RNG must not matter
    a3 = make_agent("thompson", spec, seed=5).act(obs, info)
    np.testing.assert_array_equal(a1, a2)
    np.testing.assert_array_equal(a1, a3)


def test_n_step_label_is_the_discounted_reward_until_the_user_leaves():
    from driftrec.agents.returns import NStepReturns

    tracker = NStepReturns(horizon=3, gamma=0.5)
    done = np.array([False, False])
    assert tracker.push({"t": 0}, np.array([1.0, 1.0]), done) == []
    assert tracker.push({"t": 1}, np.array([2.0, 2.0]), np.array([False, True])) == []
    (payload, ret), = tracker.push({"t": 2}, np.array([4.0, 4.0]), done)
    # user 0: 1 + 0.5*2 + 0.25*4 = 3; user 1 left at t=1: 1 + 0.5*2 = 2 (its slot's next
    # user's reward is not credited).
    assert payload == {"t": 0} and ret.tolist() == [3.0, 2.0]
