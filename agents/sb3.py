"""Stable-Baselines3 PPO, A2C and DQN on the native vector env, through one ``VecEnv`` adapter.

``DriftRecVecEnv`` presents the driftrec vector env (B users stepped in one call) to SB3 as a
``VecEnv`` with B sub-environments, so SB3 collects B transitions per call and never copies the
env's logic: the adapter only maps observations and actions at the boundary —

- PPO / A2C: an **item-wise actor** (``itemwise_policy.ItemwisePolicy``). The observation is the
  per-candidate feature tensor (B, N, F) of ``itemwise.CandidateFeatures`` — including the item
  statistics logged from every transition the agent sees — and the action is a Plackett–Luce
  slate of K distinct positions, whose exact log-probability gives PPO its ratio. The logged
  statistics and the per-user session memory are agent state (saved and loaded with it).
  Rewards reach SB3 divided by a fixed scale (the mean positive reward of the first rewarded
  batch) so that value targets are O(1) in every scenario (minutes, clicks or revenue).
- DQN: a slate is combinatorial (N!/(N−K)! actions), far beyond a Q-network's output layer, so DQN
  chooses per user-step one of a few *ranking rules* (``rules.RULES``: similarity, profile,
  popularity, freshness, diversity, and two on the item's logged rating) from a compact user-state
  vector (``rules.RankingRules.state``). It logs item statistics from every transition it sees,
  as the item-wise agents do; they are agent state, saved with it.

SB3 seeds and draws from the *global* random generators; every SB3 call here runs inside
``isolated_global_rng`` (saved, seeded from the agent's own generator, restored), so the agent is
reproducible and other code's random streams are untouched.

Training is SB3's own loop (``fit`` → ``model.learn`` on the adapter); ``fit`` again on the same
env with ``seed=None`` continues the running sessions. At evaluation the policies act frozen;
the item-wise agents' ``update`` still logs item statistics, as a deployed recommender would.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv

from .base import Agent, AgentConfig, Obs, check_obs, with_final_obs
from .itemwise import CandidateFeatures, SessionMemory
from .itemwise_policy import ItemwisePolicy
from .rules import RULES, STATE_DIM, RankingRules

StepHook = Callable[[Obs, np.ndarray, np.ndarray, dict], np.ndarray]
ObsFn = Callable[..., np.ndarray]  # (obs, rows=None) -> SB3 observation batch


@contextmanager
def isolated_global_rng(seed: int) -> Iterator[None]:
    """Seed Python/NumPy/torch global generators for SB3, then restore them."""
    py, np_state, th = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(np_state)
        torch.set_rng_state(th)


class DriftRecVecEnv(VecEnv):
    """SB3 ``VecEnv`` over a driftrec vector env; observations/actions mapped by two functions.

    ``obs_fn(dict obs, rows=None) -> (B, ...)`` (``rows``: the slots of a sub-batch) and
    ``action_fn(dict obs, sb3 actions) -> (B, K)`` slates.
    ``on_step(obs, slates, reward, info) -> reward`` (optional) sees every transition before SB3
    does and returns the reward SB3 gets (the item-wise agents log item statistics and scale the
    reward there). Departing users (autoreset in the same step) get ``terminal_observation`` from
    ``info["final_obs"]`` and ``TimeLimit.truncated`` when the session limit, not churn, ended it.
    """

    def __init__(self, env: Any, obs_fn: ObsFn,
                 action_fn: Callable[[Obs, np.ndarray], np.ndarray],
                 observation_space: gym.Space, action_space: gym.Space, seed: int | None = None,
                 on_step: StepHook | None = None):
        self.env = env  # before VecEnv.__init__, which reads render_mode through get_attr
        super().__init__(env.num_envs, observation_space, action_space)
        self.obs_fn = obs_fn
        self.action_fn = action_fn
        self.on_step = on_step
        self._seed = seed
        self._raw: Obs | None = None
        self._actions: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        raw, _ = self.env.reset(seed=self._seed)
        self._seed = None  # later resets continue the stream
        self._raw = _as_numpy(raw)
        return self.obs_fn(self._raw)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._raw is not None and self._actions is not None, "call reset() first"
        slates = self.action_fn(self._raw, self._actions)
        raw, reward, terminated, truncated, info = self.env.step(slates)
        reward = np.asarray(reward, dtype=np.float32)
        if self.on_step is not None:
            reward = self.on_step(self._raw, slates, reward, info)
        raw = _as_numpy(raw)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        for b in np.flatnonzero(dones):
            infos[b]["TimeLimit.truncated"] = bool(truncated[b] and not terminated[b])
        # SB3 reads a departing user's last observation only to bootstrap the value of a session
        # cut off by the time limit; a user who left has no future, so only those rows are built.
        cut = np.flatnonzero(truncated & ~terminated)
        if cut.size:
            last = self.obs_fn(final_rows(raw, info, cut), cut)
            for i, b in enumerate(cut):
                infos[b]["terminal_observation"] = last[i]
        self._raw = raw
        return (self.obs_fn(raw), np.asarray(reward, dtype=np.float32), dones, infos)

    def close(self) -> None:
        return None  # the env belongs to the caller

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.env.unwrapped, attr_name)] * len(self._indices(indices))

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        raise AttributeError("DriftRecVecEnv does not set attributes on the shared engine")

    def env_method(self, method_name: str, *args: Any, indices: Any = None, **kw: Any) -> list:
        raise AttributeError("DriftRecVecEnv has no per-user sub-environments to call")

    def env_is_wrapped(self, wrapper_class: type, indices: Any = None) -> list[bool]:
        return [False] * len(self._indices(indices))

    def _indices(self, indices: Any) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        if isinstance(indices, int):
            return [indices]
        return list(indices)


def final_rows(next_obs: Obs, info: Mapping[str, Any], rows: np.ndarray) -> Obs:
    """The last observations (a sub-batch) of the departed users in ``rows``."""
    final = info.get("final_obs")
    if isinstance(final, Mapping):
        final = {k: np.asarray(v)[rows] for k, v in final.items()}
    elif final is not None:
        final = np.asarray(final, dtype=object)[rows]
    sub = {k: v[rows] for k, v in next_obs.items()}
    return with_final_obs(sub, {"final_obs": final}, np.arange(len(rows)))


def _as_numpy(obs: Mapping[str, Any]) -> Obs:
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in obs.items()}


# ----- agents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class ItemwiseConfig(AgentConfig):
    """What PPO and A2C share: the item-wise network and features, discount, entropy bonus.

    ``net_arch``: widths of the per-candidate MLP; ``proj_dim``: dims of the projected item
    embedding in each candidate's row; ``window``: slates remembered per user (shown-recently and
    no-click columns); ``deterministic``: act with the top-K scores (True) or a Plackett–Luce
    sample (False) outside training; ``gamma`` 0.99: a ``video`` session lasts ~100 steps, and
    the budget a good item refills pays off over tens of them.
    """

    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    net_arch: tuple[int, ...] = (64, 64)
    proj_dim: int = 8
    window: int = 5
    deterministic: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.net_arch, list):  # JSON and CLI hand over lists
            object.__setattr__(self, "net_arch", tuple(self.net_arch))
        check_field_types(self)
        checks = {
            "learning_rate": self.learning_rate > 0, "gamma": 0 <= self.gamma <= 1,
            "gae_lambda": 0 <= self.gae_lambda <= 1, "ent_coef": self.ent_coef >= 0,
            "vf_coef": self.vf_coef >= 0, "max_grad_norm": self.max_grad_norm > 0,
            "proj_dim": self.proj_dim >= 1, "window": self.window >= 1,
            "net_arch": bool(self.net_arch) and min(self.net_arch) >= 1,
        }
        ranges = {"learning_rate": "> 0", "gamma": "in [0, 1]", "gae_lambda": "in [0, 1]",
                  "ent_coef": ">= 0", "vf_coef": ">= 0", "max_grad_norm": "> 0",
                  "proj_dim": ">= 1", "window": ">= 1",
                  "net_arch": "a non-empty tuple of positive widths"}
        for name, ok in checks.items():
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r}; expected {ranges[name]}")


_FIELD_TYPES: dict[str, tuple[type, ...]] = {"float": (numbers.Real,),
                                             "int": (numbers.Integral,), "bool": (bool,)}


def check_field_types(config: AgentConfig) -> None:
    """Each field of a config holds its declared kind: a finite number (not a bool) for
    ``float``/``int``, a bool for ``bool``, a tuple of ints for ``tuple[int, ...]``. NumPy
    scalars are stored as Python numbers, so checkpoints hold plain data."""
    for field in dataclasses.fields(config):
        value = getattr(config, field.name)
        if field.type == "tuple[int, ...]":
            ok = isinstance(value, tuple) and all(
                isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)
            expected = "a tuple of ints"
        else:
            kinds = _FIELD_TYPES[str(field.type)]
            ok = isinstance(value, kinds) and (field.type == "bool" or (
                not isinstance(value, bool) and math.isfinite(value)))
            expected = {"float": "a finite number", "int": "an int", "bool": "True or False"}[
                str(field.type)]
        if not ok:
            raise TypeError(
                f"{field.name}={value!r} ({type(value).__name__}); expected {expected}")
        plain = {"float": float, "int": int}.get(str(field.type))
        if plain is not None:
            object.__setattr__(config, field.name, plain(value))
        elif field.type == "tuple[int, ...]":
            object.__setattr__(config, field.name, tuple(int(v) for v in value))


@dataclass(frozen=True)
class PPOConfig(ItemwiseConfig):
    """SB3 PPO: ``n_steps`` per user per rollout (a rollout is n_steps × B transitions),
    minibatches of ``batch_size`` transitions, ``n_epochs`` passes, ratio clipped at
    ``clip_range``."""

    n_steps: int = 32
    batch_size: int = 512
    n_epochs: int = 4
    clip_range: float = 0.2

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("n_steps", "batch_size", "n_epochs"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name}={getattr(self, name)!r}; expected >= 1")
        if not self.clip_range > 0:
            raise ValueError(f"clip_range={self.clip_range!r}; expected > 0")


@dataclass(frozen=True)
class A2CConfig(ItemwiseConfig):
    """SB3 A2C: one gradient step per rollout of ``n_steps`` × B transitions (RMSprop)."""

    learning_rate: float = 7e-4
    n_steps: int = 8

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_steps < 1:
            raise ValueError(f"n_steps={self.n_steps!r}; expected >= 1")


@dataclass(frozen=True)
class DQNConfig(AgentConfig):
    """SB3 DQN over the ranking rules (see the module docstring). Rewards reach it unscaled:
    dividing them by a fixed scale as the item-wise agents do lowered ``shopping`` (441 vs 496
    and 516 vs 593 at 102k/51k user-steps, seeds 0/1)."""

    learning_rate: float = 1e-3
    buffer_size: int = 50_000
    learning_starts: int = 500
    batch_size: int = 128
    gamma: float = 0.9
    train_freq: int = 1
    gradient_steps: int = 1
    target_update_interval: int = 500
    exploration_fraction: float = 0.3
    exploration_final_eps: float = 0.05
    net_arch: tuple[int, ...] = (64, 64)

    def __post_init__(self) -> None:
        if isinstance(self.net_arch, list):  # JSON and CLI hand over lists
            object.__setattr__(self, "net_arch", tuple(self.net_arch))
        check_field_types(self)
        ranges = {
            "learning_rate": (self.learning_rate > 0, "> 0"),
            "gamma": (0 <= self.gamma <= 1, "in [0, 1]"),
            "exploration_fraction": (0 <= self.exploration_fraction <= 1, "in [0, 1]"),
            "exploration_final_eps": (0 <= self.exploration_final_eps <= 1, "in [0, 1]"),
            "learning_starts": (self.learning_starts >= 0, ">= 0"),
            "gradient_steps": (self.gradient_steps >= 1, ">= 1"),
            "net_arch": (bool(self.net_arch) and min(self.net_arch) >= 1,
                         "a non-empty tuple of positive widths"),
            **{name: (getattr(self, name) >= 1, ">= 1") for name in
               ("buffer_size", "batch_size", "train_freq", "target_update_interval")},
        }
        for name, (ok, expected) in ranges.items():
            if not ok:
                raise ValueError(f"{name}={getattr(self, name)!r}; expected {expected}")


class SB3Agent(Agent):
    """Common part: the adapter, isolated seeding, ``fit`` via ``model.learn``, persistence."""

    def __init__(self, env: Any, seed: int | None = None, config: AgentConfig | None = None):
        super().__init__(env, seed, config)
        if not hasattr(env, "num_envs"):
            raise ValueError(f"{self.name} needs the native vector env (gymnasium.make_vec)")
        self._setup()
        self.vec = self._adapter(env, seed)
        self._sb3_seed = int(self.rng.integers(2**31))
        with isolated_global_rng(self._sb3_seed):
            self.model = self._build(self.vec)

    # subclasses ---------------------------------------------------------------------------
    def _setup(self) -> None:
        """State the adapter needs, built before it (features, logged statistics)."""

    def _adapter(self, env: Any, seed: int | None) -> DriftRecVecEnv:
        raise NotImplementedError

    def _build(self, vec: DriftRecVecEnv) -> Any:
        raise NotImplementedError

    # interface ----------------------------------------------------------------------------
    def fit(self, env: Any, steps: int, seed: int | None = None) -> dict[str, float]:
        """Run SB3's own learning loop for ``steps`` batched steps (steps × B transitions).

        A ``seed`` (or another env) starts fresh users from ``env.reset(seed=seed)``; ``seed=None``
        on the env of the previous ``fit`` continues its running sessions, so training in chunks
        (learning curves) is the same as one long run.
        """
        if env.num_envs != self.vec.num_envs:
            raise ValueError(
                f"{self.name} was built for B={self.vec.num_envs} users; got an env with "
                f"B={env.num_envs}"
            )
        if seed is not None or env is not self.vec.env or self.model._last_obs is None:
            self.vec = self._adapter(env, seed)
            self.model.set_env(self.vec, force_reset=True)
        with isolated_global_rng(int(self.rng.integers(2**31))):
            self.model.learn(total_timesteps=steps * env.num_envs, reset_num_timesteps=False)
        return {"user_steps": float(self.model.num_timesteps)}

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        with isolated_global_rng(int(self.rng.integers(2**31))):
            actions, _ = self.model.predict(self.vec.obs_fn(obs), deterministic=True)
        return self.vec.action_fn(obs, actions)

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.model.policy.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])


class ItemwiseAgent(SB3Agent):
    """PPO/A2C with the item-wise Plackett–Luce policy (module docstring)."""

    #: the per-user session memory follows the users last served, not the env (base.load).
    resizable_state = ("memory_",)

    def _setup(self) -> None:
        c = self.config
        self.features = CandidateFeatures(self.spec, c.proj_dim, c.window)
        self.memory = SessionMemory(c.window)  # the users this agent serves through ``act``
        self.reward_scale = 0.0  # fixed by the first rewarded training batch

    def _adapter(self, env: Any, seed: int | None) -> DriftRecVecEnv:
        memory = SessionMemory(self.config.window)  # the training stream's own users
        n, k = self.num_candidates, self.slate_size

        def obs_fn(obs: Obs, rows: np.ndarray | None = None) -> np.ndarray:
            return self.features(check_obs(obs, self.spec)[0], memory, rows)

        def action_fn(obs: Obs, actions: np.ndarray) -> np.ndarray:
            batched = check_obs(obs, self.spec)[0]
            slates = np.asarray(actions, dtype=np.int64).reshape(-1, k)
            memory.record(batched, slate_ids(batched, slates))
            return slates

        space = gym.spaces.Box(-np.inf, np.inf, shape=(n, self.features.dim), dtype=np.float32)
        return DriftRecVecEnv(env, obs_fn, action_fn, space, gym.spaces.MultiDiscrete([n] * k),
                              seed, on_step=self._on_step)

    def _on_step(self, obs: Obs, slates: np.ndarray, reward: np.ndarray, info: dict
                 ) -> np.ndarray:
        """Log the transition's item feedback; hand SB3 the reward over the fixed scale."""
        self.features.observe(obs, slates, info)
        if self.reward_scale == 0.0 and (reward > 0).any():
            self.reward_scale = float(reward[reward > 0].mean())
        return reward / (self.reward_scale or 1.0)

    def _policy_kwargs(self) -> dict[str, Any]:
        return {"net_arch": tuple(int(w) for w in self.config.net_arch)}

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        rows = self.features(obs, self.memory)
        with isolated_global_rng(int(self.rng.integers(2**31))):
            actions, _ = self.model.predict(rows, deterministic=self.config.deterministic)
        slates = np.asarray(actions, dtype=np.int64).reshape(-1, self.slate_size)
        self.memory.record(obs, slate_ids(obs, slates))
        return slates

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        self.features.observe(obs, action, info)
        return {}

    def state_dict(self) -> dict[str, Any]:
        logged = {f"stats_{k}": v for k, v in self.features.stats.state().items()}
        logged |= {f"memory_{k}": v for k, v in self.memory.state().items()}
        return {
            "policy": self.model.policy.state_dict(),
            "reward_scale": torch.tensor(self.reward_scale, dtype=torch.float64),
            **{k: torch.from_numpy(np.array(v, copy=True)) for k, v in logged.items()},
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])
        self.reward_scale = float(state["reward_scale"])
        self.features.stats.load(_prefixed(state, "stats_"))
        self.memory.load(_prefixed(state, "memory_"))


def slate_ids(obs: Obs, slates: np.ndarray) -> np.ndarray:
    """Catalog ids (B, K) of the slates' positions into each user's candidates."""
    return np.take_along_axis(np.asarray(obs["candidate_ids"]), slates, axis=1)


def _prefixed(state: Mapping[str, Any], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix):]: v.numpy() for k, v in state.items() if k.startswith(prefix)}


class PPOAgent(ItemwiseAgent):
    """PPO with the item-wise actor; the slate is a Plackett–Luce sample over candidate scores."""

    name = "ppo"
    Config = PPOConfig

    def _build(self, vec: DriftRecVecEnv) -> Any:
        from stable_baselines3 import PPO

        c = self.config
        # A minibatch cannot exceed the rollout (SB3 would warn and use the whole rollout).
        batch_size = min(c.batch_size, c.n_steps * vec.num_envs)
        return PPO(ItemwisePolicy, vec, learning_rate=c.learning_rate, n_steps=c.n_steps,
                   batch_size=batch_size, n_epochs=c.n_epochs, gamma=c.gamma,
                   gae_lambda=c.gae_lambda, clip_range=c.clip_range, ent_coef=c.ent_coef,
                   vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm,
                   policy_kwargs=self._policy_kwargs(), seed=self._sb3_seed, device="cpu",
                   verbose=0)


class A2CAgent(ItemwiseAgent):
    """A2C with the item-wise actor; the slate is a Plackett–Luce sample over candidate scores."""

    name = "a2c"
    Config = A2CConfig

    def _build(self, vec: DriftRecVecEnv) -> Any:
        from stable_baselines3 import A2C

        c = self.config
        return A2C(ItemwisePolicy, vec, learning_rate=c.learning_rate, n_steps=c.n_steps,
                   gamma=c.gamma, gae_lambda=c.gae_lambda, ent_coef=c.ent_coef,
                   vf_coef=c.vf_coef, max_grad_norm=c.max_grad_norm,
                   policy_kwargs=self._policy_kwargs(), seed=self._sb3_seed, device="cpu",
                   verbose=0)


class DQNAgent(SB3Agent):
    """DQN choosing one of ``rules.RULES`` per user-step from a compact state vector."""

    name = "dqn"
    Config = DQNConfig

    def _setup(self) -> None:
        self.rules = RankingRules(self.spec)

    def _adapter(self, env: Any, seed: int | None) -> DriftRecVecEnv:
        k = self.slate_size
        space = gym.spaces.Box(-np.inf, np.inf, shape=(STATE_DIM,), dtype=np.float32)
        return DriftRecVecEnv(
            env,
            lambda obs, rows=None: self.rules.state(check_obs(obs, self.spec)[0]),
            lambda obs, rules: self.rules.slates(check_obs(obs, self.spec)[0], rules, k),
            space, gym.spaces.Discrete(len(RULES)), seed, on_step=self._on_step,
        )

    def _on_step(self, obs: Obs, slates: np.ndarray, reward: np.ndarray, info: dict
                 ) -> np.ndarray:
        self.rules.observe(obs, slates, info)
        return reward

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        with isolated_global_rng(int(self.rng.integers(2**31))):
            actions, _ = self.model.predict(self.rules.state(obs), deterministic=True)
        return self.rules.slates(obs, actions, self.slate_size)

    def _update(self, obs, action, reward, next_obs, terminated, truncated, info):
        self.rules.observe(obs, action, info)
        return {}

    def _build(self, vec: DriftRecVecEnv) -> Any:
        from stable_baselines3 import DQN

        c = self.config
        return DQN("MlpPolicy", vec, learning_rate=c.learning_rate, buffer_size=c.buffer_size,
                   learning_starts=c.learning_starts, batch_size=c.batch_size, gamma=c.gamma,
                   train_freq=c.train_freq, gradient_steps=c.gradient_steps,
                   target_update_interval=c.target_update_interval,
                   exploration_fraction=c.exploration_fraction,
                   exploration_final_eps=c.exploration_final_eps,
                   policy_kwargs={"net_arch": list(c.net_arch)}, seed=self._sb3_seed,
                   device="cpu", verbose=0)

    def state_dict(self) -> dict[str, Any]:
        logged = {f"stats_{k}": torch.from_numpy(np.array(v, copy=True))
                  for k, v in self.rules.stats.state().items()}
        return {"policy": self.model.policy.state_dict(), **logged}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])
        self.rules.stats.load(_prefixed(state, "stats_"))
