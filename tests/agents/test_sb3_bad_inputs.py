"""Every bad input to the item-wise PPO/A2C agents is a clear error — an executable register.

Each case is (label, call, error type, message pattern); ``call`` takes the ``ctx`` namespace
(a 4-user vector env with N=12, K=3, a PPO agent, an observation, a temporary folder). Running
this module's ``CASES`` outside pytest prints the register rows (see ``register_rows``).
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
from driftrec.agents.itemwise import SessionMemory
from driftrec.agents.itemwise_policy import ItemwisePolicy, PlackettLuce
from gymnasium import spaces


def make_ctx(tmp: Any) -> SimpleNamespace:
    import driftrec.envs  # noqa: F401

    def env(users: int = 4) -> Any:
        return gymnasium.make_vec("driftrec/Video-v0", num_envs=users,
                                  vectorization_mode="vector_entry_point", encoder="hashing",
                                  num_candidates=12, slate_size=3)

    ctx = SimpleNamespace(env=env(), other_env=env(2), tmp=tmp)
    ctx.agent = make_agent("ppo", ctx.env, seed=0, n_steps=2)
    ctx.obs, _ = ctx.env.reset(seed=0)
    ctx.agent.save(tmp / "ppo.pt")
    return ctx


def _without(obs: dict, key: str) -> dict:
    return {k: v for k, v in obs.items() if k != key}


def _step_info_without(ctx: SimpleNamespace, key: str) -> tuple:
    action = ctx.agent.act(ctx.obs)
    next_obs, reward, terminated, truncated, info = ctx.env.step(action)
    info = {k: v for k, v in info.items() if k != key}
    return ctx.obs, action, reward, next_obs, terminated, truncated, info


def _option(name: str, **kw: Any) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: make_agent(name, ctx.env, seed=0, **kw)


def _policy(n: int, k: int, obs_shape: tuple[int, ...] | None = None,
            action: spaces.Space | None = None, **kw: Any) -> Callable[[SimpleNamespace], Any]:
    obs_space = spaces.Box(-1.0, 1.0, shape=obs_shape or (n, 5), dtype=np.float32)
    act_space = action or spaces.MultiDiscrete([n] * k)
    return lambda ctx: ItemwisePolicy(obs_space, act_space, lambda _: 1e-3, **kw)


def _load_into(name: str, **kw: Any) -> Callable[[SimpleNamespace], Any]:
    return lambda ctx: make_agent(name, ctx.env, seed=0, **kw).load(ctx.tmp / "ppo.pt")


CASES: list[tuple[str, Callable[[SimpleNamespace], Any], type[Exception], str]] = [
    ("ppo option hiden=32 (misspelt)", _option("ppo", hiden=32), TypeError,
     r"unknown option\(s\) \['hiden'\] for PPOConfig; valid options: \['learning_rate'"),
    ("a2c option batch_size=64 (a PPO option)", _option("a2c", batch_size=64), TypeError,
     r"unknown option\(s\) \['batch_size'\] for A2CConfig"),
    ("ppo policy_kwargs={...} (not an option)", _option("ppo", policy_kwargs={}), TypeError,
     r"unknown option\(s\) \['policy_kwargs'\] for PPOConfig"),
    ("gamma=1.5", _option("ppo", gamma=1.5), ValueError, r"gamma=1.5; expected in \[0, 1\]"),
    ("gamma='0.9' (a string)", _option("ppo", gamma="0.9"), TypeError,
     r"gamma='0.9' \(str\); expected a finite number"),
    ("gae_lambda=-0.1", _option("a2c", gae_lambda=-0.1), ValueError,
     r"gae_lambda=-0.1; expected in \[0, 1\]"),
    ("learning_rate=-1e-3", _option("a2c", learning_rate=-1e-3), ValueError,
     r"learning_rate=-0.001; expected > 0"),
    ("learning_rate=nan", _option("ppo", learning_rate=float("nan")), TypeError,
     r"learning_rate=nan \(float\); expected a finite number"),
    ("learning_rate=inf", _option("ppo", learning_rate=float("inf")), TypeError,
     r"learning_rate=inf \(float\); expected a finite number"),
    ("n_steps=0", _option("ppo", n_steps=0), ValueError, r"n_steps=0; expected >= 1"),
    ("n_steps=2.5", _option("a2c", n_steps=2.5), TypeError,
     r"n_steps=2.5 \(float\); expected an int"),
    ("n_steps=True", _option("ppo", n_steps=True), TypeError,
     r"n_steps=True \(bool\); expected an int"),
    ("batch_size=0", _option("ppo", batch_size=0), ValueError, r"batch_size=0; expected >= 1"),
    ("n_epochs=0", _option("ppo", n_epochs=0), ValueError, r"n_epochs=0; expected >= 1"),
    ("clip_range=0", _option("ppo", clip_range=0.0), ValueError,
     r"clip_range=0.0; expected > 0"),
    ("ent_coef=-0.1", _option("ppo", ent_coef=-0.1), ValueError,
     r"ent_coef=-0.1; expected >= 0"),
    ("vf_coef=-1", _option("a2c", vf_coef=-1.0), ValueError, r"vf_coef=-1.0; expected >= 0"),
    ("max_grad_norm=0", _option("ppo", max_grad_norm=0.0), ValueError,
     r"max_grad_norm=0.0; expected > 0"),
    ("net_arch=()", _option("a2c", net_arch=()), ValueError,
     r"net_arch=\(\); expected a non-empty tuple of positive widths"),
    ("net_arch=(64, 0)", _option("ppo", net_arch=(64, 0)), ValueError,
     r"net_arch=\(64, 0\); expected a non-empty tuple"),
    ("net_arch=64 (not a tuple)", _option("ppo", net_arch=64), TypeError,
     r"net_arch=64 \(int\); expected a tuple of ints"),
    ("window=0", _option("ppo", window=0), ValueError, r"window=0; expected >= 1"),
    ("proj_dim=0", _option("a2c", proj_dim=0), ValueError, r"proj_dim=0; expected >= 1"),
    ("deterministic='yes'", _option("ppo", deterministic="yes"), TypeError,
     r"deterministic='yes' \(str\); expected True or False"),
    ("a single env (gymnasium.make)",
     lambda ctx: make_agent("ppo", gymnasium.make("driftrec/Video-v0", encoder="hashing",
                                                  num_candidates=12, slate_size=3)),
     ValueError, r"ppo needs the native vector env \(gymnasium.make_vec\)"),
    ("observation without history_ids",
     lambda ctx: ctx.agent.act(_without(ctx.obs, "history_ids")), ValueError,
     r"observation is missing keys \['history_ids'\]; expected keys \['candidate_ids'"),
    ("FlatObservation Box instead of the Dict",
     lambda ctx: ctx.agent.act(np.zeros((4, 10), dtype=np.float32)), TypeError,
     r"expected a dict observation .* got ndarray .*not the FlatObservation Box"),
    ("observation with N=20 candidates (agent built for 12)",
     lambda ctx: ctx.agent.act({**ctx.obs, "candidate_ids": np.zeros((4, 20), np.int64)}),
     ValueError, r"observation\['candidate_ids'\] has shape \(4, 20\); expected \(B, N=12\)"),
    ("update without info['chosen']",
     lambda ctx: ctx.agent.update(*_step_info_without(ctx, "chosen")), ValueError,
     r"logs feedback from info\['chosen'\] and info\['rating'\]; got info keys"),
    ("update without info['rating']",
     lambda ctx: ctx.agent.update(*_step_info_without(ctx, "rating")), ValueError,
     r"logs feedback from info\['chosen'\] and info\['rating'\]"),
    ("fit on an env of B=2 (agent built for 4)", lambda ctx: ctx.agent.fit(ctx.other_env, 2),
     ValueError, r"ppo was built for B=4 users; got an env with B=2"),
    ("load a PPO checkpoint into A2C", _load_into("a2c"), ValueError,
     r"holds agent 'ppo'"),
    ("load a checkpoint saved with window=5 into window=3", _load_into("ppo", window=3),
     ValueError, r"window"),
    ("policy with K=5 > N=3", _policy(3, 5), ValueError,
     r"slate size K=5 exceeds the number of candidates N=3"),
    ("policy over a flat Box(18) observation", _policy(6, 3, obs_shape=(18,)), ValueError,
     r"needs a Box observation of per-candidate rows \(N, F\)"),
    ("policy with a Discrete(6) action", _policy(6, 3, action=spaces.Discrete(6)), ValueError,
     r"needs a MultiDiscrete\(\[N=6\] \* K\) slate action"),
    ("policy with nvec 7 for N=6 candidates",
     _policy(6, 3, action=spaces.MultiDiscrete([7] * 3)), ValueError,
     r"needs a MultiDiscrete\(\[N=6\] \* K\) slate action"),
    ("policy with features_extractor_class", _policy(6, 3, features_extractor_class=object),
     TypeError, r"ItemwisePolicy sets features_extractor_class itself"),
    ("policy with an unknown keyword", _policy(6, 3, hidden=32), TypeError,
     r"unexpected keyword argument 'hidden'"),
    ("Plackett-Luce over 3 logits with K=5",
     lambda ctx: PlackettLuce(5).proba_distribution(torch.zeros(2, 3)), ValueError,
     r"logits have shape \(2, 3\); expected \(B, N\) with N >= K=5"),
    ("Plackett-Luce with K=0", lambda ctx: PlackettLuce(0), ValueError,
     r"slate_size must be >= 1, got 0"),
    ("session memory window 0", lambda ctx: SessionMemory(0), ValueError,
     r"memory window must be >= 1, got 0"),
]


@pytest.fixture(scope="module")
def ctx(tmp_path_factory):
    context = make_ctx(tmp_path_factory.mktemp("rl"))
    yield context
    context.env.close()
    context.other_env.close()


@pytest.mark.parametrize(("label", "call", "error", "match"), CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_a_clear_error(label, call, error, match, ctx):
    with pytest.raises(error, match=match):
        call(ctx)


def test_a_failed_load_leaves_the_agent_as_it_was(ctx):
    agent = make_agent("ppo", ctx.env, seed=3, window=3)
    before = {k: v.clone() for k, v in agent.model.policy.state_dict().items()}
    with pytest.raises(ValueError, match="window"):
        agent.load(ctx.tmp / "ppo.pt")
    for key, value in agent.model.policy.state_dict().items():
        torch.testing.assert_close(value, before[key], rtol=0, atol=0)


def register_rows(tmp: Any) -> list[str]:
    """Markdown rows ``| rl | bad input | Error: message |`` from actually running ``CASES``."""
    context = make_ctx(tmp)
    rows = []
    for label, call, _, _ in CASES:
        try:
            call(context)
        except Exception as exc:  # noqa: BLE001 — the register records whatever was raised
            message = str(exc).replace("|", "\\|").replace("\n", " ")
            rows.append(f"| rl/agents | {label} | {type(exc).__name__}: {message[:220]} |")
        else:
            rows.append(f"| rl/agents | {label} | (no error) |")
    return rows
