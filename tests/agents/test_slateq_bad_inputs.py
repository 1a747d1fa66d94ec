"""Every bad input to SlateQ is a clear error — an executable register.

Each case is (label, call, error type, message pattern); ``call`` takes the ``ctx`` namespace
(a 4-user ``video`` vector env with N=12, K=3, a SlateQ agent, an observation and the step that
followed it, a temporary folder).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import gymnasium
import numpy as np
import pytest
import torch
from driftrec.agents import make_agent
from driftrec.agents.slateq import best_slates


def make_ctx(tmp: Any) -> SimpleNamespace:
    import driftrec.envs  # noqa: F401

    env = gymnasium.make_vec("driftrec/Video-v0", num_envs=4, encoder="hashing",
                             vectorization_mode="vector_entry_point", num_candidates=12,
                             slate_size=3)
    ctx = SimpleNamespace(env=env, tmp=tmp)
    ctx.agent = make_agent("slateq", env, seed=0, warmup=4, batch_size=4)
    ctx.obs, _ = env.reset(seed=0)
    ctx.action = ctx.agent.act(ctx.obs)
    ctx.step = env.step(ctx.action)
    ctx.agent.save(tmp / "slateq.pt")
    make_agent("linucb", env, seed=0).save(tmp / "linucb.pt")
    return ctx


def _option(**kw: Any) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: make_agent("slateq", ctx.env, seed=0, **kw)


def _update(reward: Any = None, drop: str | None = None, **info: Any
            ) -> Callable[[SimpleNamespace], Any]:
    """``update`` with the real step, one info key dropped or replaced, or another reward."""

    def call(ctx: SimpleNamespace) -> Any:
        next_obs, rew, terminated, truncated, step_info = ctx.step
        step_info = {k: v for k, v in step_info.items() if k != drop} | info
        return ctx.agent.update(ctx.obs, ctx.action, rew if reward is None else reward, next_obs,
                                terminated, truncated, step_info)

    return call


def _slates(k: int, optimizer: str = "exact") -> Callable[[SimpleNamespace], Any]:
    q = torch.zeros(2, 5)
    return lambda ctx: best_slates(q, q, torch.zeros(2), torch.zeros(2), k, optimizer)


CASES: list[tuple[str, Callable[[SimpleNamespace], Any], type[Exception], str]] = [
    ("option hiden=32 (misspelt)", _option(hiden=32), TypeError,
     r"unknown option\(s\) \['hiden'\] for SlateQConfig; valid options: \['gamma'"),
    ("option learning_rate=1e-3 (the SB3 name; SlateQ's is lr)", _option(learning_rate=1e-3),
     TypeError, r"unknown option\(s\) \['learning_rate'\] for SlateQConfig"),
    ("gamma=1.0 (no discount: Q diverges)", _option(gamma=1.0), ValueError,
     r"gamma must be in \[0, 1\), got 1.0"),
    ("gamma=-0.1", _option(gamma=-0.1), ValueError, r"gamma must be in \[0, 1\), got -0.1"),
    ("gamma='0.99' (a string)", _option(gamma="0.99"), TypeError,
     r"gamma='0.99' \(str\); expected a finite number"),
    ("gamma=nan", _option(gamma=float("nan")), TypeError,
     r"gamma=nan \(float\); expected a finite number"),
    ("hidden=0", _option(hidden=0), ValueError, r"hidden must be >= 1, got 0"),
    ("hidden=64.5", _option(hidden=64.5), TypeError, r"hidden=64.5 \(float\); expected an int"),
    ("hidden=True", _option(hidden=True), TypeError, r"hidden=True \(bool\); expected an int"),
    ("proj_dim=0", _option(proj_dim=0), ValueError, r"proj_dim must be >= 1, got 0"),
    ("window=5 (the item-wise actor's memory option; SlateQ has none)", _option(window=5),
     TypeError, r"unknown option\(s\) \['window'\] for SlateQConfig"),
    ("n_step=0", _option(n_step=0), ValueError, r"n_step must be >= 1, got 0"),
    ("batch_size=0", _option(batch_size=0), ValueError, r"batch_size must be >= 1, got 0"),
    ("buffer_size=0", _option(buffer_size=0), ValueError, r"buffer_size must be >= 1, got 0"),
    ("updates_per_step=-1", _option(updates_per_step=-1), ValueError,
     r"updates_per_step must be >= 0, got -1"),
    ("warmup=-5", _option(warmup=-5), ValueError, r"warmup must be >= 0, got -5"),
    ("lr=0", _option(lr=0.0), ValueError, r"lr must be > 0, got 0.0"),
    ("lr=inf", _option(lr=float("inf")), TypeError, r"lr=inf \(float\); expected a finite"),
    ("target_tau=0 (the target net never moves)", _option(target_tau=0.0), ValueError,
     r"target_tau must be in \(0, 1\], got 0.0"),
    ("target_tau=1.5", _option(target_tau=1.5), ValueError,
     r"target_tau must be in \(0, 1\], got 1.5"),
    ("epsilon=1.5", _option(epsilon=1.5), ValueError, r"epsilon must be in \[0, 1\], got 1.5"),
    ("epsilon_eval=-0.1", _option(epsilon_eval=-0.1), ValueError,
     r"epsilon_eval must be in \[0, 1\], got -0.1"),
    ("slate_optimizer='greedy'", _option(slate_optimizer="greedy"), ValueError,
     r"slate_optimizer must be one of \('exact', 'topk'\), got 'greedy'"),
    ("slate_optimizer=None", _option(slate_optimizer=None), TypeError,
     r"slate_optimizer=None \(NoneType\); expected a str"),
    ("online_updates='no' (a string)", _option(online_updates="no"), TypeError,
     r"online_updates='no' \(str\); expected True or False"),
    ("online_updates=1 (an int)", _option(online_updates=1), TypeError,
     r"online_updates=1 \(int\); expected True or False"),
    ("observation without history_ids",
     lambda ctx: ctx.agent.act({k: v for k, v in ctx.obs.items() if k != "history_ids"}),
     ValueError, r"observation is missing keys \['history_ids'\]"),
    ("observation with N=20 candidates (agent built for 12)",
     lambda ctx: ctx.agent.act({**ctx.obs, "candidate_ids": np.zeros((4, 20), np.int64)}),
     ValueError, r"observation\['candidate_ids'\] has shape \(4, 20\); expected \(B, N=12\)"),
    ("FlatObservation Box instead of the Dict",
     lambda ctx: ctx.agent.act(np.zeros((4, 10), np.float32)), TypeError,
     r"expected a dict observation"),
    ("update without info['chosen']", _update(drop="chosen"), ValueError,
     r"logs feedback from info\['chosen'\] and info\['rating'\]; got info keys"),
    ("update without info['rating']", _update(drop="rating"), ValueError,
     r"logs feedback from info\['chosen'\] and info\['rating'\]"),
    ("update with info['chosen'] = K (out of the slate)",
     _update(chosen=np.array([3, -1, 0, 1])), ValueError,
     r"info\['chosen'\] is \[3\] for users \[0\]; expected a slate position in \[0, K=3\) or -1"),
    ("update with a NaN reward", _update(reward=np.array([1.0, np.nan, 0.0, 0.0])), ValueError,
     r"reward is not finite for users \[1\] \(\[nan\]\); expected finite numbers"),
    ("update with a slate of 2 positions (K=3)",
     lambda ctx: ctx.agent.update(ctx.obs, ctx.action[:, :2], ctx.step[1], ctx.step[0],
                                 *ctx.step[2:]), ValueError,
     r"action has shape \(4, 2\); expected \(B=4, K=3\)"),
    ("choice_probabilities of a slate of 4 positions",
     lambda ctx: ctx.agent.choice_probabilities(ctx.obs, np.zeros((4, 4), np.int64)),
     ValueError, r"slates have shape \(4, 4\); expected \(B, K=3\)"),
    ("fit for 0 steps", lambda ctx: ctx.agent.fit(ctx.env, 0), ValueError,
     r"steps must be a positive int \(batched env steps\), got 0"),
    ("fit for 2.5 steps", lambda ctx: ctx.agent.fit(ctx.env, 2.5), ValueError,
     r"steps must be a positive int \(batched env steps\), got 2.5"),
    ("best_slates with k=6 > N=5", _slates(6), ValueError,
     r"slate size k=6 must be in \[1, N=5\]"),
    ("best_slates with optimizer 'lp'", _slates(2, "lp"), ValueError,
     r"optimizer must be one of \('exact', 'topk'\), got 'lp'"),
    ("load a LinUCB checkpoint into SlateQ",
     lambda ctx: ctx.agent.load(ctx.tmp / "linucb.pt"), ValueError,
     r"holds agent 'linucb', not 'slateq'"),
    ("load a checkpoint saved with hidden=64 into hidden=32",
     lambda ctx: make_agent("slateq", ctx.env, hidden=32).load(ctx.tmp / "slateq.pt"),
     ValueError, r"hidden"),
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    context = make_ctx(tmp_path_factory.mktemp("slateq"))
    yield context
    context.env.close()


@pytest.mark.parametrize(("label", "call", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(label, call, error, match, ctx):
    with pytest.raises(error, match=match):
        call(ctx)


def test_a_rejected_update_leaves_the_logged_statistics_unchanged(ctx):
    before = {k: v.copy() for k, v in ctx.agent.stats.state().items()}
    with pytest.raises(ValueError, match="info"):
        _update(chosen=np.array([3, -1, 0, 1]))(ctx)
    for key, value in ctx.agent.stats.state().items():
        np.testing.assert_array_equal(value, before[key])

