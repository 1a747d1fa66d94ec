"""The vector env of one driftrec tree, served to ``benchmarks/against_commit.py``: the tree an
earlier commit extracted, or this interpreter's own driftrec.

    python driftrec_at.py TREE B N K SEED ITEMS BACKENDS

TREE is a folder holding the commit's files as a package ``driftrec`` (``TREE/driftrec``), or
``-`` for the installed driftrec. BACKENDS is a comma list of the env's ``backend`` values, or
``default``: the tree's own default, the only choice an older tree may know. Every tree builds
the same catalog through its own ``benchmarks/throughput.py`` ``synthetic_catalog`` (ITEMS
random unit rows, d = 384, seed 0) and steps B users at N candidates and slates of K random
distinct positions (drawn up front; the env resets ended sessions itself). One thread.
"""

import sys

import numpy as np
from _serve import serve, session_stepper, versions


def main() -> None:
    tree, b, n, k, seed, items, backends = sys.argv[1:8]
    if tree != "-":
        sys.path.insert(0, tree)
    import torch

    torch.set_num_threads(1)
    import driftrec
    from driftrec.benchmarks.throughput import synthetic_catalog
    from driftrec.envs import DriftRecVectorEnv

    where = str(driftrec.__path__[0])
    if tree != "-" and not where.startswith(tree):  # a stale install must not stand in for it
        raise SystemExit(f"imported driftrec from {where}, not from the tree {tree}")
    b, n, k, seed, items = int(b), int(n), int(k), int(seed), int(items)
    catalog = synthetic_catalog(items, 384)
    rng = np.random.default_rng(seed)
    # throughput.slate_batches' draw, written out: an older tree may not have that function
    bank = [np.ascontiguousarray(np.argsort(rng.random((b, n)), axis=1)[:, :k]) for _ in range(4)]
    fns = {}
    for backend in backends.split(","):
        options = {} if backend == "default" else {"backend": backend}
        env = DriftRecVectorEnv(b, "video", catalog=catalog, num_candidates=n, slate_size=k,
                                **options)  # fmt: skip
        env.reset(seed=seed)

        def step(slates: np.ndarray, env: DriftRecVectorEnv = env) -> bool:
            env.step(slates)
            return False

        fns[backend] = session_stepper(step, lambda: None, bank)
    meta = {"tree": where, **versions("driftrec", "torch", "numpy")}
    serve(fns, meta, warmup=3)


if __name__ == "__main__":
    main()
