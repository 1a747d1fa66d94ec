"""``NextStepAutoreset``: a driftrec vector env with Gymnasium's ``NEXT_STEP`` autoreset.

The native vector env and its wrappers autoreset in the same step (``SAME_STEP``, see
``vector_env``). RLlib's ``SingleAgentEnvRunner`` assumes ``NEXT_STEP``: the step where user i
leaves returns that user's last observation with ``terminated``/``truncated``; the *next* step
ignores row i's action and returns the new user's first observation (reward 0, not done), which
RLlib files as the reset of a new episode. Fed ``SAME_STEP`` data, RLlib would record the new
user's first observation as the departing user's last one and miss the new user's first
transition.

The engine steps every user in one call, so row i's ignored action still reaches the user who
arrived in its slot at the previous step. That user is then dropped and a fresh one takes the slot
(``engine.replace_users``), so every episode RLlib records is a real user from its first
observation, and every action it records reached the user it was recorded for. The cost: one
discarded user-step per departure; ``info`` of a reset row describes that discarded step (a Rank
env logs its feedback, which is real). The wrapped env is the native vector env or a stack of
driftrec's vector wrappers over it (Rank, ``FlatObservation``, ``ScoreAction``): the fresh user's
first observation goes through the same wrappers (``fresh_observation``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from .vector_env import DriftRecVectorEnv


class NextStepAutoreset(VectorWrapper):
    """A driftrec vector env (``SAME_STEP``, ``info["final_obs"]``) presented with ``NEXT_STEP``
    autoreset; ``reset_rows`` marks the rows the last ``step`` returned as a new user's first
    observation (not a user-step)."""

    def __init__(self, env: VectorEnv) -> None:
        if not isinstance(env.unwrapped, DriftRecVectorEnv):
            raise TypeError(f"NextStepAutoreset wraps driftrec's native vector env "
                            f"(gym.make_vec(id, vectorization_mode='vector_entry_point')); got "
                            f"{type(env.unwrapped).__name__}")
        if env.metadata.get("autoreset_mode") != AutoresetMode.SAME_STEP:
            raise ValueError(f"NextStepAutoreset expects a SAME_STEP env; got autoreset_mode "
                             f"{env.metadata.get('autoreset_mode')!r}")
        fresh_observation(env, np.zeros(0, dtype=np.int64), dry_run=True)  # a known stack
        super().__init__(env)
        self.metadata = {**env.metadata, "autoreset_mode": AutoresetMode.NEXT_STEP}
        self._pending = np.zeros(env.num_envs, dtype=bool)
        self.reset_rows = np.zeros(env.num_envs, dtype=bool)

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return AutoresetMode.NEXT_STEP

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        self._pending[:] = False
        self.reset_rows[:] = False
        return obs, info

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        finals, flags = info.pop("final_obs", None), info.pop("_final_obs", None)
        reset_rows = np.flatnonzero(self._pending)
        ended = (np.asarray(terminated) | np.asarray(truncated)) & ~self._pending
        if reset_rows.size:
            obs = _put_rows(obs, reset_rows, fresh_observation(self.env, reset_rows))
            reward, terminated, truncated = reward.copy(), terminated.copy(), truncated.copy()
            reward[reset_rows] = 0.0
            terminated[reset_rows] = False
            truncated[reset_rows] = False
        last_rows = np.flatnonzero(ended)
        if last_rows.size:
            if finals is None or not np.asarray(flags)[last_rows].all():
                raise RuntimeError(f"rows {last_rows.tolist()} ended without info['final_obs']; "
                                   "expected the native vector env's SAME_STEP autoreset")
            obs = _put_rows(obs, last_rows, _stack([finals[i] for i in last_rows]))
        self.reset_rows, self._pending = self._pending, ended
        return obs, reward, terminated, truncated, info


def fresh_observation(env: VectorEnv, rows: np.ndarray, dry_run: bool = False) -> Any:
    """New users in slots ``rows`` of ``env``'s engine and their first observation as ``env``
    presents it (through driftrec's vector wrappers, whose per-user memory is cleared for them).
    ``dry_run``: only check that every layer of ``env`` is one this function knows."""
    from .rank import RankVectorWrapper
    from .wrappers import FlatObservationVector, ScoreActionVector

    if isinstance(env, DriftRecVectorEnv):
        if dry_run:
            return None
        rows_t = torch.as_tensor(rows, device=env.engine.device)
        env.engine.replace_users(rows_t, refresh=True)
        return env.engine.observation(rows_t)
    if not isinstance(env, (RankVectorWrapper, FlatObservationVector, ScoreActionVector)):
        raise TypeError(f"NextStepAutoreset cannot present new users through "
                        f"{type(env).__name__}; expected driftrec's vector env or its Rank, "
                        f"FlatObservation and ScoreAction wrappers")
    raw = fresh_observation(env.env, rows, dry_run)
    if dry_run:
        return None
    if isinstance(env, RankVectorWrapper):
        env.tables.forget(rows)  # the slot's memory of slates belongs to the dropped user
        return env.tables.features(raw, rows)
    if isinstance(env, FlatObservationVector):
        return env.observations(raw)
    return raw

def _put_rows(obs: Any, rows: np.ndarray, values: Any) -> Any:
    """``obs`` (an array or a dict of arrays) with ``rows`` replaced by ``values``; a dict key is
    copied only where it changes (the raw candidate arrays are read-only broadcast views of the
    pool, the same for every user)."""
    if not isinstance(obs, dict):
        out = np.array(obs, copy=True)
        out[rows] = values
        return out
    out = dict(obs)
    for key, new in values.items():
        if not np.array_equal(obs[key][rows], new):
            out[key] = np.array(obs[key], copy=True)
            out[key][rows] = new
    return out


def _stack(items: list[Any]) -> Any:
    if isinstance(items[0], dict):
        return {k: np.stack([np.asarray(x[k]) for x in items]) for k in items[0]}
    return np.stack(items)


def rank_vector_env(scenario: str, num_envs: int, **overrides: Any) -> VectorEnv:
    """The scenario's Rank id as a native vector env of ``num_envs`` users, with NEXT_STEP
    autoreset: what RLlib's env runners step (``benchmarks.rllib_training``)."""
    import gymnasium as gym

    from . import RANK_ENV_IDS

    return NextStepAutoreset(gym.make_vec(RANK_ENV_IDS[scenario], num_envs=num_envs,
                                          vectorization_mode="vector_entry_point", **overrides))
