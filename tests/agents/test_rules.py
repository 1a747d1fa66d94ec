"""DQN's ranking rules (``agents.rules``): each rule's ranking, the state vector, the fixed-rule
policy, and the bad inputs of this area as an executable register."""

from __future__ import annotations

import numpy as np
import pytest
from driftrec.agents.rules import (
    RULES,
    STATE_DIM,
    FixedRuleAgent,
    FixedRuleConfig,
    RankingRules,
)

from .conftest import K, M, N


def _logged(spec, ratings: dict[int, float]) -> RankingRules:
    """Rules whose statistics hold 10 consumptions of each item in ``ratings`` at that rating."""
    rules = RankingRules(spec)
    for item, rating in ratings.items():
        ids = np.full(10, item)
        rules.stats.observe(ids, ids, np.full(10, rating))
    return rules


def test_every_rule_returns_k_distinct_positions(spec, make_obs):
    obs = make_obs(batch=len(RULES))
    slates = RankingRules(spec).slates(obs, np.arange(len(RULES)), K)
    assert slates.shape == (len(RULES), K)
    assert all(len(set(row)) == K and row.min() >= 0 and row.max() < N for row in slates)


def test_the_quality_rule_ranks_by_the_logged_rating(spec, make_obs):
    obs = make_obs(batch=1)
    ids = obs["candidate_ids"][0]
    # Positions 7, 2, 9 hold the best-rated items, in that order; position 0 a poor one (it pulls
    # the global mean, the prior of the never-consumed rest, down to 3.85).
    rules = _logged(spec, {int(ids[7]): 5.0, int(ids[2]): 4.8, int(ids[9]): 4.6,
                           int(ids[0]): 1.0})
    assert rules.slates(obs, [RULES.index("quality")], K).tolist() == [[7, 2, 9]]


def test_the_popular_rule_ranks_by_the_public_prior(spec, make_obs):
    obs = make_obs(batch=2)
    expected = np.argsort(-obs["candidate_popularity"], axis=1, kind="stable")[:, :K]
    assert (RankingRules(spec).slates(obs, [2, 2], K) == expected).all()


def test_the_state_holds_the_logged_quality_of_the_candidates(spec, make_obs):
    obs = make_obs(batch=3)
    fresh = RankingRules(spec).state(obs)
    assert fresh.shape == (3, STATE_DIM) and fresh.dtype == np.float32
    assert (fresh[:, 8:] == 0.0).all()  # nothing logged: every estimate is the prior
    logged = _logged(spec, {int(obs["candidate_ids"][0, 0]): 5.0,
                            int(obs["candidate_ids"][0, 1]): 1.0}).state(obs)
    assert logged[0, 8] > 0.0 > logged[0, 9] - logged[0, 8]


def test_a_fixed_rule_agent_round_trips_its_logged_statistics(spec, make_obs, make_info,
                                                              tmp_path):
    obs = make_obs(batch=4, seed=1)
    agent = FixedRuleAgent(spec, seed=0, config=FixedRuleConfig(rule="quality"))
    action = agent.act(obs)
    agent.update(obs, action, np.ones(4), obs, np.zeros(4, bool), np.zeros(4, bool),
                 make_info(batch=4))
    agent.save(tmp_path / "rule.pt")
    loaded = FixedRuleAgent(spec, seed=0, config=FixedRuleConfig(rule="quality"))
    loaded.load(tmp_path / "rule.pt")
    other = make_obs(batch=4, seed=2)
    assert (loaded.act(other) == agent.act(other)).all()
    assert loaded.rules.stats.consumed.sum() == agent.rules.stats.consumed.sum() == 3.0


_BAD = [
    ("rule index", lambda spec, obs: RankingRules(spec).slates(obs, [0, 7, -1, 1], K),
     ValueError, r"rule indices \[7, -1\] for users \[1, 2\]; expected 0..6"),
    ("rule name", lambda spec, obs: FixedRuleConfig(rule="best"),
     ValueError, r"rule='best'; expected one of \('similar'"),
    ("info without chosen", lambda spec, obs: RankingRules(spec).observe(
        obs, np.zeros((4, K), np.int64), {"rating": np.zeros(4)}),
     ValueError, r"the ranking rules logs feedback from info\['chosen'\] and info\['rating'\]"),
    ("info without rating", lambda spec, obs: RankingRules(spec).observe(
        obs, np.zeros((4, K), np.int64), {"chosen": np.zeros(4)}),
     ValueError, r"got info keys \['chosen'\]"),
]


@pytest.mark.parametrize(("case", "call", "error", "match"), _BAD, ids=[b[0] for b in _BAD])
def test_bad_rule_inputs_are_clear_errors(spec, make_obs, case, call, error, match):
    with pytest.raises(error, match=match):
        call(spec, make_obs(batch=4))


def test_dqn_rules_benchmark_rejects_an_unknown_rule():
    from driftrec.benchmarks import dqn_rules

    with pytest.raises(ValueError, match=r"--rules \['best'\]; expected names from"):
        dqn_rules.main(["--quick", "--rules", "quality,best"])


def test_table_size_is_the_catalog(spec):
    assert RankingRules(spec).stats.shown.shape == (M,)


_BAD_DQN_CONFIG = [
    ({"gamma": 2}, ValueError, r"gamma=2.0; expected in \[0, 1\]"),
    ({"net_arch": []}, ValueError, r"net_arch=\(\); expected a non-empty tuple of positive"),
    ({"batch_size": 0}, ValueError, r"batch_size=0; expected >= 1"),
    ({"target_update_interval": 0}, ValueError, r"target_update_interval=0; expected >= 1"),
    ({"learning_rate": "x"}, TypeError, r"learning_rate='x' \(str\); expected a finite number"),
    ({"learning_rate": 0.0}, ValueError, r"learning_rate=0.0; expected > 0"),
    ({"exploration_fraction": 1.5}, ValueError, r"exploration_fraction=1.5; expected in \[0, 1\]"),
    ({"buffer_size": 1.5}, TypeError, r"buffer_size=1.5 \(float\); expected an int"),
    ({"learning_starts": -1}, ValueError, r"learning_starts=-1; expected >= 0"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), _BAD_DQN_CONFIG,
                         ids=[next(iter(b[0])) + "=" + repr(next(iter(b[0].values())))
                              for b in _BAD_DQN_CONFIG])
def test_bad_dqn_options_name_the_value_and_the_range(kwargs, error, match):
    from driftrec.agents.sb3 import DQNConfig

    with pytest.raises(error, match=match):
        DQNConfig(**kwargs)
