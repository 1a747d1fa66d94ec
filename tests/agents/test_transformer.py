"""InterestTransformer: empty and padded histories, online updates, MMR re-ranking."""

from __future__ import annotations

import numpy as np
import torch
from driftrec.agents import make_agent
from driftrec.agents.transformer import mmr_rerank


def test_empty_history_gives_finite_scores_from_the_profile(spec, make_obs):
    agent = make_agent("transformer", spec, seed=0)
    obs = make_obs(batch=3, history=[0, 0, 0])
    logit, engage, _ = agent.predict(obs)
    assert torch.isfinite(logit).all() and torch.isfinite(engage).all()
    other = dict(obs, profile_embedding=obs["profile_embedding"][::-1].copy())
    assert not torch.allclose(agent.predict(other)[0], logit)  # the profile is used


def test_padding_content_does_not_change_the_interest_embedding(spec, make_obs):
    agent = make_agent("transformer", spec, seed=0)
    obs = make_obs(batch=3, history=[2, 0, 5])
    garbage = {k: v.copy() for k, v in obs.items()}
    garbage["history_ids"][0, 2:] = 7  # padded slots (mask 0) filled with a real item id
    garbage["history_responses"][0, 2:] = 0.9
    np.testing.assert_allclose(agent.interest(obs), agent.interest(garbage), atol=1e-6)


def test_online_update_changes_the_model(spec, make_obs, make_info):
    agent = make_agent("transformer", spec, seed=0, warmup=4, batch_size=8)
    before = [p.detach().clone() for p in agent.model.parameters()]
    obs, info = make_obs(batch=4), make_info()
    action = agent.act(obs, info)
    stats = agent.update(obs, action, np.ones(4), make_obs(seed=1), np.zeros(4, bool),
                         np.zeros(4, bool), info)
    assert "click_loss" in stats and "category_loss" in stats
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.model.parameters()))


def test_exploration_and_mmr_flags_still_give_valid_slates(spec, make_obs):
    agent = make_agent("transformer", spec, seed=0, epsilon=0.5, ucb=0.1, mmr=0.5)
    slate = agent.act(make_obs(batch=8))
    assert all(len(set(row)) == spec.slate_size for row in slate.tolist())


def test_mmr_picks_a_dissimilar_second_item():
    emb = np.array([[[1.0, 0.0], [0.99, 0.141], [0.0, 1.0]]])
    score = np.array([[1.0, 0.95, 0.5]])
    assert mmr_rerank(score, emb, 2, 0.0).tolist() == [[0, 1]]  # pure relevance
    assert mmr_rerank(score, emb, 2, 0.7).tolist() == [[0, 2]]  # diversity wins
