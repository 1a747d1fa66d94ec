"""Observation and action spaces (single-user; the vector env batches them).

``SlateSpace`` is a ``MultiDiscrete([N] * K)`` whose ``sample()`` draws K *distinct* positions
and whose ``contains()`` requires distinctness: a plain ``MultiDiscrete.sample()`` repeats
positions, which the env rejects, so checkers and random agents would trip on it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.vector.utils import batch_space

from .model.engine import Engine


class SlateSpace(spaces.MultiDiscrete):
    """K distinct positions in [0, N), over any leading batch shape: nvec has shape (..., K)."""

    def __init__(self, nvec: Any, seed: int | np.random.Generator | None = None) -> None:
        super().__init__(np.asarray(nvec, dtype=np.int64), dtype=np.int64, seed=seed)

    def sample(self, mask: Any = None, probability: Any = None) -> np.ndarray:
        if mask is not None or probability is not None:
            return super().sample(mask=mask, probability=probability)
        n = int(self.nvec.reshape(-1)[0])
        k = self.shape[-1]
        rows = int(np.prod(self.shape[:-1], dtype=np.int64))
        # argsort of uniforms = a uniformly random permutation per row; keep the first K
        keys = self.np_random.random((rows, n))
        slate = np.argsort(keys, axis=1)[:, :k]
        return slate.reshape(self.shape).astype(np.int64)

    def contains(self, x: Any) -> bool:
        if not super().contains(x):
            return False
        arr = np.asarray(x).reshape(-1, self.shape[-1])
        srt = np.sort(arr, axis=1)
        return not bool((srt[:, 1:] == srt[:, :-1]).any())

    def __repr__(self) -> str:
        return f"SlateSpace({self.nvec.tolist() if self.nvec.ndim == 1 else self.shape})"


@batch_space.register(SlateSpace)
def _batch_slate_space(space: SlateSpace, n: int = 1) -> SlateSpace:
    return SlateSpace(np.broadcast_to(space.nvec, (n, *space.shape)).copy(), seed=None)


def observation_space(engine: Engine) -> spaces.Dict:
    """The Dict space of docs/internals.md. Embeddings are unit rows, so [-1, 1] bounds hold."""
    cfg = engine.config
    n, h, m, da = cfg.num_candidates, cfg.history_length, len(engine.catalog), engine.agent_dim
    c = engine.num_categories
    return spaces.Dict(
        {
            "candidate_ids": spaces.Box(0, m - 1, (n,), np.int64),
            "candidate_embeddings": spaces.Box(-1.0, 1.0, (n, da), np.float32),
            "candidate_categories": spaces.Box(0, max(c - 1, 0), (n,), np.int64),
            "candidate_popularity": spaces.Box(0.0, 1.0, (n,), np.float32),
            "history_ids": spaces.Box(-1, m - 1, (h,), np.int64),
            "history_responses": spaces.Box(0.0, 1.0, (h, 2), np.float32),
            "history_mask": spaces.Box(0, 1, (h,), np.int8),
            "profile_embedding": spaces.Box(-1.0, 1.0, (da,), np.float32),
            "step": spaces.Box(0, cfg.max_steps, (1,), np.int64),
        }
    )


def action_space(engine: Engine) -> SlateSpace:
    cfg = engine.config
    return SlateSpace(np.full(cfg.slate_size, cfg.num_candidates, dtype=np.int64))
