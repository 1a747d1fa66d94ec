"""``NextStepAutoreset``: the native vector env with Gymnasium's ``NEXT_STEP`` autoreset.

The native vector env autoresets in the same step (``SAME_STEP``, see ``vector_env``). RLlib's
``SingleAgentEnvRunner`` assumes ``NEXT_STEP``: the step where user i leaves returns that user's
last observation with ``terminated``/``truncated``; the *next* step ignores row i's action and
returns the new user's first observation (reward 0, not done), which RLlib files as the reset of
a new episode. Fed ``SAME_STEP`` data, RLlib would record the new user's first observation as the
departing user's last one and miss the new user's first transition.

The engine steps every user in one call, so row i's ignored action still reaches the user who
arrived in its slot at the previous step. That user is then dropped and a fresh one takes the slot
(``engine.replace_users``), so every episode RLlib records is a real user from its first
observation, and every action it records reached the user it was recorded for. The cost: one
discarded user-step per departure; ``info`` of a reset row describes that discarded step.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from .vector_env import DriftRecVectorEnv


class NextStepAutoreset(VectorWrapper):
    """A ``DriftRecVectorEnv`` (Dict observation) presented with ``NEXT_STEP`` autoreset."""

    def __init__(self, env: VectorEnv) -> None:
        if not isinstance(env, DriftRecVectorEnv):
            raise TypeError(f"NextStepAutoreset wraps the native DriftRecVectorEnv itself (below "
                            f"any observation or action wrapper); got {type(env).__name__}")
        super().__init__(env)
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self._pending = np.zeros(env.num_envs, dtype=bool)
        #: Rows the last ``step`` returned as a new user's first observation (not a user-step).
        self.reset_rows = np.zeros(env.num_envs, dtype=bool)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return AutoresetMode.NEXT_STEP

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._pending[:] = False
        self.reset_rows[:] = False
        return obs, info

    def step(self, actions: Any) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray,
                                          np.ndarray, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        finals, flags = info.pop("final_obs", None), info.pop("_final_obs", None)
        reset_rows = np.flatnonzero(self._pending)
        ended = (np.asarray(terminated) | np.asarray(truncated)) & ~self._pending
        if reset_rows.size:
            engine = self.env.unwrapped.engine
            rows_t = torch.as_tensor(reset_rows, device=engine.device)
            engine.replace_users(rows_t, refresh=True)
            obs = _put_rows(obs, reset_rows, engine.observation(rows_t))
            reward, terminated, truncated = reward.copy(), terminated.copy(), truncated.copy()
            reward[reset_rows] = 0.0
            terminated[reset_rows] = False
            truncated[reset_rows] = False
        last_rows = np.flatnonzero(ended)
        if last_rows.size:
            if finals is None or not np.asarray(flags)[last_rows].all():
                raise RuntimeError(f"rows {last_rows.tolist()} ended without info['final_obs']; "
                                   "expected the native vector env's SAME_STEP autoreset")
            last = {k: np.stack([np.asarray(finals[i][k]) for i in last_rows]) for k in obs}
            obs = _put_rows(obs, last_rows, last)
        self.reset_rows, self._pending = self._pending, ended
        return obs, reward, terminated, truncated, info


def _put_rows(obs: dict[str, np.ndarray], rows: np.ndarray,
              values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """``obs`` with ``rows`` replaced by ``values``; a key is copied only where it changes (the
    candidate arrays are read-only broadcast views of the pool, the same for every user)."""
    out = dict(obs)
    for key, new in values.items():
        if not np.array_equal(obs[key][rows], new):
            out[key] = np.array(obs[key], copy=True)
            out[key][rows] = new
    return out



def _dev_rows(obs: dict[str, np.ndarray]) -> np.ndarray:
    emb = np.asarray(obs["candidate_embeddings"], dtype=np.float32)
    pop = np.asarray(obs["candidate_popularity"], dtype=np.float32)[..., None]
    return np.concatenate([emb, pop], axis=-1).reshape(len(emb), -1)


class _DevRows(VectorWrapper):
    def __init__(self, env: VectorEnv) -> None:
        from gymnasium import spaces
        from gymnasium.vector.utils import batch_space

        super().__init__(env)
        n, d = env.single_observation_space["candidate_embeddings"].shape
        self.single_observation_space = spaces.Box(-1.0, 1.0, (n * (d + 1),), np.float32)
        self.observation_space = batch_space(self.single_observation_space, env.num_envs)

    def reset(self, **kw: Any) -> Any:
        obs, info = self.env.reset(**kw)
        return _dev_rows(obs), info

    def step(self, actions: Any) -> Any:
        obs, *rest = self.env.step(actions)
        return (_dev_rows(obs), *rest)


def rank_vector_env(scenario: str, num_envs: int, **overrides: Any) -> VectorEnv:
    """The scenario's Rank env (``Box(N)`` scores, per-candidate rows) over the native vector env
    with NEXT_STEP autoreset: what RLlib's env runners step (``benchmarks.rllib_training``)."""
    from .wrappers import ScoreAction

    env = NextStepAutoreset(DriftRecVectorEnv(num_envs, scenario, **overrides))
    return ScoreAction(_DevRows(env))


class rank_features:
    def __init__(self, scenario: str, **overrides: Any) -> None:
        pass

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        return _dev_rows(obs)

    def update(self, *args: Any) -> None:
        pass
