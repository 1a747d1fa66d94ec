"""RecSim's interest_evolution environment, one user, served to ``benchmarks/peers.py``.

Run by the peer's interpreter: ``python recsim_interest_evolution.py N K SEED``. Documents are
resampled every step (``resample_documents=True``, RecSim's default for this environment), the
slate is K distinct candidate positions, and a session ends when the user's time budget does.
"""

import sys

import numpy as np
from _serve import serve_sessions, slate_bank, versions
from recsim.environments import interest_evolution


def main() -> None:
    n, k, seed = (int(a) for a in sys.argv[1:4])
    env = interest_evolution.create_environment(
        {"num_candidates": n, "slate_size": k, "resample_documents": True, "seed": seed}
    )
    env.reset()
    meta = {"simulator": "recsim interest_evolution", **versions("recsim", "gym", "numpy")}
    bank = slate_bank(np.random.default_rng(seed), n, k)
    serve_sessions(lambda slate: bool(env.step(slate)[2]), env.reset, bank, meta)


if __name__ == "__main__":
    main()
