"""Stable-Baselines3 PPO, A2C and DQN on the native vector env, through one ``VecEnv`` adapter.

``DriftRecVecEnv`` presents the driftrec vector env (B users stepped in one call) to SB3 as a
``VecEnv`` with B sub-environments, so SB3 collects B transitions per call and never copies the
env's logic: the adapter only maps observations and actions at the boundary —

- PPO / A2C: observation = ``driftrec.envs.FlatObservation``'s Box; action = ``Box(N)`` candidate
  scores turned into the top-K slate by ``driftrec.envs.ScoreAction`` (the env's own wrapper).
- DQN: a slate is combinatorial (N!/(N−K)! actions), far beyond a Q-network's output layer, so DQN
  chooses per user-step one of a few *ranking rules* that span the trade-offs the scenarios pose:

  0. ``similar``   — cosine to the decayed history mean (exploit current interest);
  1. ``profile``   — cosine to the public profile (the user's long-term interests);
  2. ``popular``   — the public popularity prior (safe, non-personal);
  3. ``fresh``     — similar to the profile but far from the last consumed items (counter boredom
     and satiation in the region just consumed);
  4. ``diverse``   — MMR over history similarity (a varied slate hedges an uncertain interest).

  Its observation is a compact user-state vector (``features.state_vector``): which rule is best
  depends on the user's state (how bored, how engaged, how far into the session), not on
  candidate identities — and a Box of B·N·d floats per transition would make the replay buffer
  gigabytes.

SB3 seeds and draws from the *global* random generators; every SB3 call here runs inside
``isolated_global_rng`` (saved, seeded from the agent's own generator, restored), so the agent is
reproducible and other code's random streams are untouched.

Training is SB3's own loop (``fit`` → ``model.learn`` on the adapter). ``update`` is a no-op: SB3's
learners collect their own rollouts, so at evaluation time these policies act frozen.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv

from .base import Agent, AgentConfig, Obs, check_obs, top_k, with_final_obs
from .features import batch_dot, history_embedding
from .transformer import mmr_rerank

RULES = ("similar", "profile", "popular", "fresh", "diverse")


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

    ``obs_fn(dict obs) -> (B, ...)`` and ``action_fn(dict obs, sb3 actions) -> (B, K)`` slates.
    Departing users (autoreset in the same step) get ``terminal_observation`` from
    ``info["final_obs"]`` and ``TimeLimit.truncated`` when the session limit, not churn, ended it.
    """

    def __init__(self, env: Any, obs_fn: Callable[[Obs], np.ndarray],
                 action_fn: Callable[[Obs, np.ndarray], np.ndarray],
                 observation_space: gym.Space, action_space: gym.Space, seed: int | None = None):
        self.env = env  # before VecEnv.__init__, which reads render_mode through get_attr
        super().__init__(env.num_envs, observation_space, action_space)
        self.obs_fn = obs_fn
        self.action_fn = action_fn
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
        raw = _as_numpy(raw)
        terminated = np.asarray(terminated, dtype=bool)
        truncated = np.asarray(truncated, dtype=bool)
        dones = terminated | truncated
        infos: list[dict[str, Any]] = [{} for _ in range(self.num_envs)]
        if dones.any():
            rows = np.flatnonzero(dones)
            last = self.obs_fn(with_final_obs(raw, info, rows))
            for b in rows:
                infos[b]["terminal_observation"] = last[b]
                infos[b]["TimeLimit.truncated"] = bool(truncated[b] and not terminated[b])
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


def _as_numpy(obs: Mapping[str, Any]) -> Obs:
    return {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else np.asarray(v))
            for k, v in obs.items()}


# ----- observation / action maps ------------------------------------------------------------


def flat_observation_fn(env: Any) -> tuple[Callable[[Obs], np.ndarray], gym.spaces.Box]:
    """The env's own ``FlatObservation`` transformation as a function of a batched Dict obs."""
    from driftrec.envs import FlatObservation

    wrapper = FlatObservation(env)
    space = getattr(wrapper, "single_observation_space", None) or wrapper.observation_space
    transform = getattr(wrapper, "observations", None) or wrapper.observation
    return (lambda obs: np.asarray(transform(obs), dtype=np.float32)), space


def score_action_fn(env: Any) -> tuple[Callable[[Obs, np.ndarray], np.ndarray], gym.spaces.Box]:
    """Box(N) scores → top-K slate through the env's ``ScoreAction`` wrapper."""
    from driftrec.envs import ScoreAction

    wrapper = ScoreAction(env)
    space = getattr(wrapper, "single_action_space", None) or wrapper.action_space
    transform = getattr(wrapper, "actions", None) or wrapper.action
    return (lambda obs, scores: np.asarray(transform(scores), dtype=np.int64)), space


def state_vector(obs: Obs, table: np.ndarray, recent: int = 3) -> np.ndarray:
    """Compact user state for DQN (B, 8): session time, recent engagement/rating, history fill,
    and how the candidates relate to the user (mean/max similarity to history, to the last
    consumed items, and to the profile)."""
    from .slateq import user_features

    user, has = history_embedding(obs, table)
    cand = np.asarray(obs["candidate_embeddings"], dtype=np.float32)
    sim = batch_dot(user, cand)
    last = table[np.clip(obs["history_ids"][:, 0], 0, None)]
    last_sim = np.where(has[:, None], batch_dot(last, cand), 0.0)
    prof = batch_dot(obs["profile_embedding"].astype(np.float32), cand)
    return np.concatenate(
        [user_features(obs)[:, :4], np.stack([sim.mean(1), sim.max(1), last_sim.max(1),
                                              prof.max(1)], axis=1)], axis=1
    ).astype(np.float32)


def rule_slates(obs: Obs, rules: np.ndarray, table: np.ndarray, k: int) -> np.ndarray:
    """Apply ranking rule ``rules[b]`` (index into ``RULES``) to user b's candidates → (B, K)."""
    rules = np.asarray(rules, dtype=np.int64).reshape(-1)
    cand = np.asarray(obs["candidate_embeddings"], dtype=np.float32)
    user, has = history_embedding(obs, table)
    sim = batch_dot(user, cand)
    prof = batch_dot(obs["profile_embedding"].astype(np.float32), cand)
    last = table[np.clip(obs["history_ids"][:, 0], 0, None)]
    last_sim = np.where(has[:, None], batch_dot(last, cand), 0.0)
    scores = {
        0: sim,
        1: prof,
        2: obs["candidate_popularity"].astype(np.float32),
        3: prof - np.maximum(last_sim, 0.0),
    }
    out = np.empty((len(rules), k), dtype=np.int64)
    for rule, score in scores.items():  # a loop over the few rules, never over users
        rows = rules == rule
        if rows.any():
            out[rows] = top_k(score[rows], k)
    rows = rules == 4
    if rows.any():
        out[rows] = mmr_rerank(sim[rows], cand[rows], k, 0.5)
    return out


# ----- agents -------------------------------------------------------------------------------


@dataclass(frozen=True)
class PPOConfig(AgentConfig):
    """SB3 PPO hyper-parameters (small: an MLP over the flat observation)."""

    learning_rate: float = 3e-4
    n_steps: int = 16
    batch_size: int = 256
    n_epochs: int = 4
    gamma: float = 0.9
    gae_lambda: float = 0.9
    ent_coef: float = 0.0
    net_arch: tuple[int, ...] = (64, 64)
    deterministic: bool = True

    def __post_init__(self) -> None:
        if min(self.n_steps, self.batch_size, self.n_epochs) < 1 or not 0 <= self.gamma <= 1:
            raise ValueError("n_steps, batch_size, n_epochs must be >= 1 and gamma in [0, 1]")


@dataclass(frozen=True)
class A2CConfig(AgentConfig):
    """SB3 A2C hyper-parameters."""

    learning_rate: float = 7e-4
    n_steps: int = 5
    gamma: float = 0.9
    ent_coef: float = 0.0
    net_arch: tuple[int, ...] = (64, 64)
    deterministic: bool = True

    def __post_init__(self) -> None:
        if self.n_steps < 1 or not 0 <= self.gamma <= 1:
            raise ValueError("n_steps must be >= 1 and gamma in [0, 1]")


@dataclass(frozen=True)
class DQNConfig(AgentConfig):
    """SB3 DQN over the ranking rules (see the module docstring)."""

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
        if min(self.buffer_size, self.batch_size, self.train_freq) < 1 or not 0 <= self.gamma <= 1:
            raise ValueError("buffer_size, batch_size, train_freq must be >= 1; gamma in [0, 1]")


class SB3Agent(Agent):
    """Common part: the adapter, isolated seeding, ``fit`` via ``model.learn``, persistence."""

    algo_name: ClassVar[str] = ""

    def __init__(self, env: Any, seed: int | None = None, config: AgentConfig | None = None):
        super().__init__(env, seed, config)
        if not hasattr(env, "num_envs"):
            raise ValueError(f"{self.name} needs the native vector env (gymnasium.make_vec)")
        self.vec = self._adapter(env, seed)
        self._sb3_seed = int(self.rng.integers(2**31))
        with isolated_global_rng(self._sb3_seed):
            self.model = self._build(self.vec)

    # subclasses ---------------------------------------------------------------------------
    def _adapter(self, env: Any, seed: int | None) -> DriftRecVecEnv:
        raise NotImplementedError

    def _build(self, vec: DriftRecVecEnv) -> Any:
        raise NotImplementedError

    def _to_slates(self, obs: Obs, actions: np.ndarray) -> np.ndarray:
        return self.vec.action_fn(obs, actions)

    # interface ----------------------------------------------------------------------------
    def fit(self, env: Any, steps: int, seed: int | None = None) -> dict[str, float]:
        """Run SB3's own learning loop for ``steps`` batched steps (steps × B transitions)."""
        if env.num_envs != self.vec.num_envs:
            raise ValueError(
                f"{self.name} was built for B={self.vec.num_envs} users; got an env with "
                f"B={env.num_envs}"
            )
        self.vec = self._adapter(env, seed)
        self.model.set_env(self.vec, force_reset=True)
        with isolated_global_rng(int(self.rng.integers(2**31))):
            self.model.learn(total_timesteps=steps * env.num_envs, reset_num_timesteps=False)
        return {}

    def _act(self, obs: Obs, info: dict[str, Any]) -> np.ndarray:
        with isolated_global_rng(int(self.rng.integers(2**31))):
            actions, _ = self.model.predict(self.vec.obs_fn(obs), deterministic=True)
        return self._to_slates(obs, actions)

    def state_dict(self) -> dict[str, Any]:
        return {"policy": self.model.policy.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.policy.load_state_dict(state["policy"])


class _ScoreAgent(SB3Agent):
    def _adapter(self, env: Any, seed: int | None) -> DriftRecVecEnv:
        obs_fn, obs_space = flat_observation_fn(env)
        act_fn, act_space = score_action_fn(env)
        return DriftRecVecEnv(env, obs_fn, act_fn, obs_space, act_space, seed)


class PPOAgent(_ScoreAgent):
    """PPO with a Gaussian policy over the N candidate scores; slate = top-K scores."""

    name = "ppo"
    Config = PPOConfig

    def _build(self, vec: DriftRecVecEnv) -> Any:
        from stable_baselines3 import PPO

        c = self.config
        return PPO("MlpPolicy", vec, learning_rate=c.learning_rate, n_steps=c.n_steps,
                   batch_size=c.batch_size, n_epochs=c.n_epochs, gamma=c.gamma,
                   gae_lambda=c.gae_lambda, ent_coef=c.ent_coef,
                   policy_kwargs={"net_arch": list(c.net_arch)}, seed=self._sb3_seed,
                   device="cpu", verbose=0)


class A2CAgent(_ScoreAgent):
    """A2C with a Gaussian policy over the N candidate scores; slate = top-K scores."""

    name = "a2c"
    Config = A2CConfig

    def _build(self, vec: DriftRecVecEnv) -> Any:
        from stable_baselines3 import A2C

        c = self.config
        return A2C("MlpPolicy", vec, learning_rate=c.learning_rate, n_steps=c.n_steps,
                   gamma=c.gamma, ent_coef=c.ent_coef,
                   policy_kwargs={"net_arch": list(c.net_arch)}, seed=self._sb3_seed,
                   device="cpu", verbose=0)


class DQNAgent(SB3Agent):
    """DQN choosing one of ``RULES`` per user-step from a compact state vector."""

    name = "dqn"
    Config = DQNConfig

    def _adapter(self, env: Any, seed: int | None) -> DriftRecVecEnv:
        table = self.spec.item_embeddings
        k = self.slate_size
        space = gym.spaces.Box(-np.inf, np.inf, shape=(8,), dtype=np.float32)
        return DriftRecVecEnv(
            env,
            lambda obs: state_vector(check_obs(obs, self.spec)[0], table),
            lambda obs, rules: rule_slates(check_obs(obs, self.spec)[0], rules, table, k),
            space, gym.spaces.Discrete(len(RULES)), seed,
        )

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
