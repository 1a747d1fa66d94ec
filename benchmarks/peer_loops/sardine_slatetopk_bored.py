"""SARDINE's ``sardine/SlateTopK-Bored-v0`` (1,000 items, K=10), one user through
``gymnasium.make``, served to ``benchmarks/peers.py``.

Run by the peer's interpreter: ``python sardine_slatetopk_bored.py N K SEED``; N and K must be
the registered 1,000 and 10 (the environment's catalog is its shipped embedding file). The
slate is K distinct item ids; a session ends when the environment terminates or truncates.
"""

import sys

import gymnasium as gym
import numpy as np
import sardine  # noqa: F401  (registers the ids)
from _serve import serve_sessions, slate_bank, versions


def main() -> None:
    n, k, seed = (int(a) for a in sys.argv[1:4])
    env = gym.make("sardine/SlateTopK-Bored-v0")
    items, size = env.unwrapped.num_items, env.unwrapped.slate_size
    if (n, k) != (items, size):
        raise SystemExit(f"SlateTopK-Bored-v0 has N={items}, K={size}; got N={n}, K={k}")
    env.reset(seed=seed)
    meta = {"simulator": "sardine SlateTopK-Bored-v0",
            **versions("sardine-rec", "gymnasium", "numpy")}  # fmt: skip
    bank = slate_bank(np.random.default_rng(seed), n, k)
    serve_sessions(lambda slate: any(env.step(slate)[2:4]), env.reset, bank, meta)


if __name__ == "__main__":
    main()
