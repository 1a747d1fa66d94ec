"""A ring buffer of named per-user arrays, shared by SlateQ and the InterestTransformer.

Transitions arrive B users at a time; the buffer stores them as rows and samples rows uniformly
with the agent's own generator. Observations are stored compactly (``compact_obs``): catalog ids
instead of candidate embeddings, which are looked up again in the agent-side item table when a
minibatch is built — the table is what the agent knows, and storing (N, d) floats per user-step
would make the buffer hundreds of times larger.
"""

from __future__ import annotations

import numpy as np

from .base import OBS_KEYS, Obs

# Every observation key but those looked up again from the candidate ids.
DERIVED_KEYS = ("candidate_embeddings", "candidate_categories")
COMPACT_KEYS = tuple(k for k in OBS_KEYS if k not in DERIVED_KEYS)


def compact_obs(obs: Obs, prefix: str = "") -> dict[str, np.ndarray]:
    """The observation without candidate embeddings (looked up again from ids)."""
    return {prefix + k: obs[k] for k in COMPACT_KEYS}


def expand_obs(rows: dict[str, np.ndarray], table: np.ndarray, prefix: str = "") -> Obs:
    """Rebuild a full observation from ``compact_obs`` rows."""
    obs = {k: rows[prefix + k] for k in COMPACT_KEYS}
    obs["candidate_embeddings"] = table[obs["candidate_ids"]]  # unused by features (ids)
    return obs


class Replay:
    """Fixed-capacity ring buffer; ``add`` takes arrays with a leading batch axis."""

    def __init__(self, capacity: int):
        if capacity < 1:
            raise ValueError(f"capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.data: dict[str, np.ndarray] = {}
        self.size = 0
        self.pos = 0

    def __len__(self) -> int:
        return self.size

    def add(self, **arrays: np.ndarray) -> None:
        batch = len(next(iter(arrays.values())))
        if not self.data:
            self.data = {
                k: np.zeros((self.capacity, *np.shape(v)[1:]), dtype=np.asarray(v).dtype)
                for k, v in arrays.items()
            }
        idx = (self.pos + np.arange(batch)) % self.capacity
        for key, value in arrays.items():
            self.data[key][idx] = value
        self.pos = int((self.pos + batch) % self.capacity)
        self.size = int(min(self.size + batch, self.capacity))

    def sample(self, n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        idx = rng.integers(0, self.size, size=n)
        return {k: v[idx] for k, v in self.data.items()}

    def recent(self, n: int) -> dict[str, np.ndarray]:
        """The ``n`` most recently added rows (fewer if the buffer holds fewer)."""
        n = min(n, self.size)
        idx = (self.pos - 1 - np.arange(n)) % self.capacity
        return {k: v[idx] for k, v in self.data.items()}
