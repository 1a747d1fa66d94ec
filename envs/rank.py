"""The Rank ids: one score per candidate in, a compact per-candidate feature table out.

``driftrec/VideoRank-v0``, ``driftrec/NewsRank-v0`` and ``driftrec/ShoppingRank-v0`` are the raw
ids wrapped in ``RankWrapper`` (single env) or ``RankVectorWrapper`` (native vector env), so that
the textbook Stable-Baselines3 call works with its default policies and no glue:

>>> import driftrec.envs
>>> from stable_baselines3 import PPO
>>> from stable_baselines3.common.env_util import make_vec_env
>>> vec = make_vec_env("driftrec/NewsRank-v0", n_envs=2, env_kwargs={"encoder": "hashing"})
>>> model = PPO("MlpPolicy", vec, n_steps=8, batch_size=16, n_epochs=1, device="cpu").learn(16)

## Observation Space

``Box(-1, 1, (N·f,), float32)``: the (N, f) table of ``candidate_features.CandidateTable``
(f = 14 columns, ``FEATURE_COLUMNS``) flattened row-major, so ``obs.reshape(N, f)[i]`` is
candidate i's row. One-dimensional because SB3's ``check_env`` warns about any other Box shape
("unconventional shape") and its ``MlpPolicy`` flattens the table anyway; 1,400 inputs in
``video`` against the 40,769 of ``FlatObservation``.

The columns ``item_rating`` and ``item_take`` come from the wrapper's log of the feedback it has
seen (``info['chosen']``, ``info['rating']`` after each slate it showed): what the recommender's
own logs hold, never the hidden state. The log is the world's, kept across users: it starts empty
at ``reset(seed=...)`` (and at the first reset) and carries over ``reset()`` without a seed and
the vector env's autoreset, as the world's clock does. A single env logs its own users; the
vector wrapper logs all B users in one table. ``shown_recent`` remembers the user's last 5 slates
(cleared for each new user).

## Action Space

``Box(-1, 1, (N,), float32)``: a score per candidate; the K highest are shown, best first, ties
going to the lower position. Any finite score is accepted (the bounds are what SB3 policies emit);
a wrong shape or a non-finite score raises ``ValueError`` before the env changes.

Rewards, episode end and info: those of the raw id (``DriftRecEnv``); the vector wrapper keeps the
same-step autoreset and turns ``info["final_obs"]`` into feature tables too.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from .candidate_features import CandidateTable, ItemStats, Obs, log_feedback
from .env import DriftRecEnv, EpisodeEndedError
from .interface import top_k
from .validation import validate_scores
from .vector_env import DriftRecVectorEnv, check_seed
from .wrappers import _AutoresetModeAttribute

#: Slates remembered per user for ``shown_recent``.
WINDOW = 5


class RankTables:
    """What the single and vector wrappers share: the table builder, the item log and each
    user's last slates, over a batch of B users (B = 1 for the single env).

    Public because other drivers of the raw vector env build the same observation from it
    (RLlib's next-step autoreset adapter and evaluation; ``wrapper.tables``): ``start`` after a
    reset, ``slates`` from scores, ``record`` the feedback, ``forget`` the slates of users who
    left, ``features`` the flat tables."""

    def __init__(self, env: Any, batch: int | None) -> None:
        """``batch``: B for a vector env, None for a single env (actions (N,), one user)."""
        self.vector = batch is not None
        batch = batch or 1
        base = env.unwrapped
        cfg = base.config
        self.num_candidates, self.slate_size = cfg.num_candidates, cfg.slate_size
        self.batch = batch
        self.table = CandidateTable(base.item_embeddings, base.catalog.category_ids,
                                    base.engine.num_categories, cfg.max_steps, WINDOW)
        self.num_items = int(self.table.table.shape[0])
        self.single_observation_space = spaces.Box(
            -1.0, 1.0, (self.num_candidates * self.table.dim,), np.float32)
        self.single_action_space = spaces.Box(-1.0, 1.0, (self.num_candidates,), np.float32)
        self.stats: ItemStats | None = None
        self.shown = np.full((batch, WINDOW, self.slate_size), -1, dtype=np.int64)
        self.last_obs: Obs | None = None

    def start(self, seed: int | None, obs: Obs) -> np.ndarray:
        """After the inner reset: a new log when seeded (or the first time); memories emptied."""
        if seed is not None or self.stats is None:
            self.stats = ItemStats(self.num_items)
        self.shown.fill(-1)
        self.last_obs = obs
        return self.features(obs)

    def slates(self, scores: Any) -> np.ndarray:
        """Validated scores (B, N) → slates (B, K); raises before anything changes."""
        if self.last_obs is None:
            raise EpisodeEndedError("step() called before reset(); call reset() first")
        shape = (self.batch, self.num_candidates)
        scores = validate_scores(scores, shape if self.vector else shape[1:])
        return top_k(np.asarray(scores).reshape(shape), self.slate_size)

    def record(self, slates: np.ndarray, info: dict[str, Any]) -> None:
        """Log the feedback on ``slates`` (shown for ``last_obs``) and push them into memory."""
        assert self.stats is not None and self.last_obs is not None
        log_feedback(self.stats, self.last_obs, slates, info, "the Rank wrapper")
        shown = np.take_along_axis(self.last_obs["candidate_ids"], slates, axis=1)
        self.shown = np.concatenate([shown[:, None], self.shown[:, :-1]], axis=1)

    def forget(self, rows: np.ndarray) -> None:
        """New users in slots ``rows``: the slates remembered there belonged to their predecessor
        (the item log stays: it is the recommender's, shared by all users)."""
        self.shown[rows] = -1

    def features(self, obs: Obs, rows: np.ndarray | None = None) -> np.ndarray:
        """Flat tables (B, N·f) for batched ``obs`` (``rows``: their users, when only some)."""
        assert self.stats is not None
        shown = self.shown if rows is None else self.shown[rows]
        table = self.table(obs, self.stats, shown)
        return table.reshape(len(table), -1)


class RankWrapper(gym.Wrapper):
    """A raw single env (``DriftRecEnv``) with score actions and feature-table observations; see
    the module docstring."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.tables = RankTables(env, None)
        self.observation_space = self.tables.single_observation_space
        self.action_space = self.tables.single_action_space

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        batched = _batched(obs)
        return self.tables.start(check_seed(seed), batched)[0], info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        slates = self.tables.slates(action)
        obs, reward, terminated, truncated, info = self.env.step(slates[0])
        self.tables.record(slates, info)
        self.tables.last_obs = batched = _batched(obs)
        return self.tables.features(batched)[0], reward, terminated, truncated, info


class RankVectorWrapper(_AutoresetModeAttribute, VectorWrapper):
    """The native vector env (``DriftRecVectorEnv``) with score actions (B, N) and feature-table
    observations (B, N·f); same-step autoreset, final observations as tables too."""

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        self.tables = RankTables(env, env.num_envs)
        self.single_observation_space = self.tables.single_observation_space
        self.single_action_space = self.tables.single_action_space
        self.observation_space = batch_space(self.single_observation_space, self.num_envs)
        self.action_space = batch_space(self.single_action_space, self.num_envs)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None
              ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self.tables.start(check_seed(seed), obs), info

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray,
                                          dict[str, Any]]:
        core = self.tables
        slates = core.slates(actions)
        obs, reward, terminated, truncated, info = self.env.step(slates)
        core.record(slates, info)
        if "final_obs" in info:
            rows = np.flatnonzero(info["_final_obs"])
            finals = info["final_obs"].copy()
            departed = {k: np.stack([finals[i][k] for i in rows]) for k in finals[rows[0]]}
            for i, table in zip(rows, core.features(departed, rows)):
                finals[i] = table
            info = {**info, "final_obs": finals}
            core.forget(rows)  # those slots hold new users now
        core.last_obs = obs
        return core.features(obs), reward, terminated, truncated, info


def _batched(obs: Obs) -> Obs:
    return {k: np.asarray(v)[None] for k, v in obs.items()}


def make_rank_env(scenario: Any = "video", **kwargs: Any) -> RankWrapper:
    """Entry point of the Rank ids for ``gym.make``: ``RankWrapper(DriftRecEnv(...))``."""
    return RankWrapper(DriftRecEnv(scenario, **kwargs))


# gym.make reads the creator's metadata to check render_mode (and to map "human" to rgb_array).
make_rank_env.metadata = DriftRecEnv.metadata  # type: ignore[attr-defined]


def make_rank_vector_env(num_envs: int = 16, scenario: Any = "video", **kwargs: Any
                         ) -> RankVectorWrapper:
    """Vector entry point of the Rank ids: ``RankVectorWrapper(DriftRecVectorEnv(...))``."""
    return RankVectorWrapper(DriftRecVectorEnv(num_envs, scenario, **kwargs))
