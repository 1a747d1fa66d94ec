"""SlateQ: the slate value decomposition on a hand example, and learning updates."""

from __future__ import annotations

import math

import numpy as np
import torch
from driftrec.agents import make_agent
from driftrec.agents.slateq import slate_value


def test_slate_value_equals_choice_weighted_item_values_by_hand():
    # Two items with logits ln 2 and ln 1, null logit ln 1: P = (2, 1, 1) / 4.
    # Q(s, A) = 0.5 * 4 + 0.25 * 8 + 0.25 * 2 = 4.5.
    q = torch.tensor([[4.0, 8.0]])
    v = torch.tensor([[math.log(2.0), 0.0]])
    value = slate_value(q, v, torch.tensor([2.0]), torch.tensor([0.0]))
    assert value.item() == pytest_approx(4.5)


def pytest_approx(x: float):
    import pytest

    return pytest.approx(x, rel=1e-6)


def test_greedy_slate_ranks_by_choice_score_times_value(spec):
    agent = make_agent("slateq", spec, seed=0)
    q = torch.tensor([[1.0, 5.0, 2.0, 0.5, 3.0]])
    v = torch.log(torch.tensor([[4.0, 0.5, 1.0, 8.0, 1.0]]))
    # exp(v) * q = [4, 2.5, 2, 4, 3] → top-3 positions 0, 3 (tie, lower first), 4.
    assert agent._greedy_slates(q, v).tolist() == [[0, 3, 4]]


def test_update_changes_the_q_and_choice_network(spec, make_obs, make_info):
    agent = make_agent("slateq", spec, seed=0, warmup=8, batch_size=8)
    before = [p.detach().clone() for p in agent.net.parameters()]
    for step in range(3):
        obs, nxt, info = make_obs(batch=4, seed=step), make_obs(batch=4, seed=step + 10), make_info()
        action = agent.act(obs, info)
        stats = agent.update(obs, action, np.array([1.0, 0.0, 2.0, 0.0]), nxt,
                             np.zeros(4, bool), np.zeros(4, bool), info)
    assert set(stats) == {"q_loss", "choice_loss"}
    assert any(not torch.equal(a, b) for a, b in zip(before, agent.net.parameters()))
