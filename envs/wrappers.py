"""Wrappers for libraries that want a ``Box`` observation or a ``Box`` action (SB3).

- ``FlatObservation``: Dict → Box(F) with F = N·d_a (candidate embeddings) + N·C (category
  one-hot) + N (popularity) + d_a (mean embedding of the history items, looked up in
  ``item_embeddings``) + d_a (profile) + 1 (step / max_steps). All parts lie in [-1, 1].
- ``ScoreAction``: Box(N) scores → the top-K positions (stable order: ties go to the lower
  position). Non-finite scores or a wrong shape raise ``ValueError`` before the env is touched.

Both accept the single env and the vector env (``FlatObservation(vec_env)`` returns the vector
variant), so the same code wraps ``gym.make`` and ``gym.make_vec`` results. The vector variants
keep ``autoreset_mode`` readable as an attribute (TorchRL's ``GymWrapper`` reads it there;
Gymnasium's vector wrappers forward only ``metadata``).
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorActionWrapper, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from .interface import top_k
from .validation import validate_scores


class _Flattener:
    """Vectorised Dict → flat float32 features over a leading batch axis."""

    def __init__(self, env: Any) -> None:
        base = env.unwrapped
        cfg = base.config
        self.item_embeddings = np.asarray(base.item_embeddings, dtype=np.float32)
        self.num_categories = int(base.engine.num_categories)
        self.max_steps = float(cfg.max_steps)
        n, da = cfg.num_candidates, self.item_embeddings.shape[1]
        self.size = n * da + n * self.num_categories + n + 2 * da + 1
        self.space = spaces.Box(-1.0, 1.0, (self.size,), np.float32)

    def __call__(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        emb = obs.get("candidate_embeddings")
        if emb is None:  # observe_candidate_embeddings=False: the rows of the agent-side table
            emb = self.item_embeddings[obs["candidate_ids"]]
        b = emb.shape[0]
        cats = obs["candidate_categories"]
        onehot = np.zeros((b, cats.shape[1], self.num_categories), dtype=np.float32)
        np.put_along_axis(onehot, cats[..., None], 1.0, axis=2)
        mask = obs["history_mask"].astype(np.float32)
        hist = self.item_embeddings[np.clip(obs["history_ids"], 0, None)] * mask[..., None]
        mean_hist = hist.sum(axis=1) / np.maximum(mask.sum(axis=1, keepdims=True), 1.0)
        return np.concatenate(
            [
                emb.reshape(b, -1),
                onehot.reshape(b, -1),
                obs["candidate_popularity"].astype(np.float32),
                mean_hist,
                obs["profile_embedding"],
                np.minimum(obs["step"].astype(np.float32) / self.max_steps, 1.0),
            ],
            axis=1,
            dtype=np.float32,
        )


class _AutoresetModeAttribute:
    """``autoreset_mode`` as an attribute, read from the wrapped env's metadata."""

    metadata: dict[str, Any]

    @property
    def autoreset_mode(self) -> AutoresetMode:
        return self.metadata["autoreset_mode"]


class FlatObservation(gym.ObservationWrapper):
    """Dict observation → ``Box(F)`` (single env) or ``Box(B, F)`` (vector env)."""

    def __new__(cls, env: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(env, VectorEnv):
            return FlatObservationVector(env)
        return super().__new__(cls)

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self._flatten = _Flattener(env)
        self.observation_space = self._flatten.space

    def observation(self, observation: dict[str, np.ndarray]) -> np.ndarray:
        batched = {k: np.asarray(v)[None] for k, v in observation.items()}
        return self._flatten(batched)[0]


class FlatObservationVector(_AutoresetModeAttribute, VectorWrapper):
    """Vector-env variant of ``FlatObservation`` (final observations are flattened too).

    A plain ``VectorWrapper``: Gymnasium's ``VectorObservationWrapper`` refuses ``SAME_STEP``
    autoreset because it cannot see ``final_obs``; here the final observations are flattened too.
    """

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        self._flatten = _Flattener(env)
        self.single_observation_space = self._flatten.space
        self._flat_batched: spaces.Box | None = None

    @property
    def observation_space(self) -> spaces.Box:
        """Built on first access (its bounds are B·F·8 bytes; see DriftRecVectorEnv)."""
        if self._flat_batched is None:
            self._flat_batched = batch_space(self._flatten.space, self.num_envs)
        return self._flat_batched

    def observations(self, observations: dict[str, np.ndarray]) -> np.ndarray:
        return self._flatten(observations)

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(seed=seed, options=options)
        return self.observations(obs), info

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(actions)
        if "final_obs" in info:
            finals = info["final_obs"].copy()
            for i in np.flatnonzero(info["_final_obs"]):
                one = {k: np.asarray(v)[None] for k, v in finals[i].items()}
                finals[i] = self._flatten(one)[0]
            info = {**info, "final_obs": finals}
        return self.observations(obs), reward, terminated, truncated, info


class ScoreAction(gym.ActionWrapper):
    """``Box(N)`` scores → slate of the K highest-scoring positions (vector env: ``Box(B, N)``).

    The declared bounds are [-1, 1] (what SB3 policies emit); any finite score is accepted.
    """

    def __new__(cls, env: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(env, VectorEnv):
            return ScoreActionVector(env)
        return super().__new__(cls)

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        cfg = env.unwrapped.config
        self.num_candidates, self.slate_size = cfg.num_candidates, cfg.slate_size
        self.action_space = spaces.Box(-1.0, 1.0, (self.num_candidates,), np.float32)

    def action(self, action: Any) -> np.ndarray:
        scores = validate_scores(action, (self.num_candidates,))
        return top_k(scores, self.slate_size)


class ScoreActionVector(_AutoresetModeAttribute, VectorActionWrapper):
    """Vector-env variant of ``ScoreAction``."""

    def __init__(self, env: VectorEnv) -> None:
        super().__init__(env)
        cfg = env.unwrapped.config
        self.num_candidates, self.slate_size = cfg.num_candidates, cfg.slate_size
        self.single_action_space = spaces.Box(-1.0, 1.0, (self.num_candidates,), np.float32)
        self.action_space = batch_space(self.single_action_space, env.num_envs)

    def actions(self, actions: Any) -> np.ndarray:
        scores = validate_scores(actions, (self.num_envs, self.num_candidates))
        return top_k(scores, self.slate_size)
