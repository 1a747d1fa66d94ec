"""driftrec's side of ``benchmarks/peers.py``: one user through ``gym.make`` or the vector env,
per backend, and the floor that any step of it must pay, served by the project's interpreter.

    python driftrec_loop.py single N K SEED BACKENDS [ENCODER [DIM]]  # gym.make("driftrec/Video-v0")
    python driftrec_loop.py vector B N K SEED BACKENDS ITEMS  # DriftRecVectorEnv, synthetic catalog

ENCODER ``-`` is the env's own. With DIM the single env runs in a DIM-dimensional space that
driftrec really uses, the item adapter's (``low_dim_world``): the built-in catalog's embeddings
mapped by a fixed random linear map W (DIM × d) and renormalised, and persona texts encoded
then mapped by the same W, through the calibrated scenarios' own route (``adapt_catalog``,
``AdaptedEncoder``). Every mechanism then runs in that space, as on a calibrated scenario
fitted with ``--adapter-dim DIM``; only W is random instead of fitted.

BACKENDS is a comma list of paths: ``fast``, ``fast-blas``, ``fast-gram``, ``torch`` (the env's
``backend``), or one of them with ``-lean`` (``observe_candidate_embeddings=False``). Besides a step per backend the worker serves
the parts of the floor, on the torch engine's own operands (as ``driftrec.benchmarks.throughput``
does): ``gather``, copying the B×K shown item embeddings into a preallocated buffer
(``numpy.take``), and the similarity product that scores every user against a new pool
(``pool_lifetime`` in the meta says how many steps share one), once through the engine's
``similarity_product`` (``product``) and once through ``numpy.matmul`` (``product_np``): at
one user a torch call's fixed cost exceeds the arithmetic, so the floor takes the cheaper of
the two. One thread.
"""

import sys
from typing import Any

import numpy as np
import torch
from _serve import serve, session_stepper, slate_bank, versions


def floor_fns(engine: Any, table: np.ndarray, rows: int, seed: int) -> dict[str, Any]:
    """``gather`` (``rows`` item embeddings of ``table``), ``product`` and ``product_np``."""
    from driftrec.envs.gemm import similarity_product

    emb = np.array(table, dtype=np.float32, order="C")
    idx = np.random.default_rng(seed).integers(0, len(emb), rows)
    buf = np.empty((rows, emb.shape[1]), dtype=np.float32)
    operands = engine.similarity_operands()
    left, right = (np.array(x.numpy(), order="C") for x in operands)
    right_t, out = right.T, np.empty((len(left), len(right)), dtype=left.dtype)
    return {
        # mode="clip": with the default "raise", numpy buffers ``out`` (a second copy, 3x slower
        # at B×K = 40,960 rows); the indices are valid, so clipping changes nothing.
        "gather": lambda: np.take(emb, idx, axis=0, out=buf, mode="clip"),
        "product": lambda: similarity_product(*operands),
        "product_np": lambda: np.matmul(left, right_t, out=out),
    }


# The seed of the random map W of ``low_dim_world`` (fixed: the same space in every run).
LOW_DIM_SEED = 20231
LOW_DIM_TAG = "random-linear-map"


def low_dim_world(dim: int, encoder: str | None) -> dict[str, Any]:
    """``gym.make`` keywords for the built-in video catalog and its personas in a ``dim``-d
    adapted space: W ~ N(0, 1/dim) (dim × d) with seed ``LOW_DIM_SEED`` (a Johnson-Lindenstrauss
    map, so inner products keep their order of magnitude)."""
    from driftrec.envs import make_scenario
    from driftrec.envs.builder import get_catalog
    from driftrec.envs.calibration import AdaptedEncoder, adapt_catalog
    from driftrec.envs.sources.users import persona_pool

    scenario = make_scenario("video", **({"encoder": encoder} if encoder else {}))
    catalog, text_encoder = get_catalog(scenario.domain, scenario.encoder)
    gen = np.random.default_rng(LOW_DIM_SEED)
    weight = (gen.standard_normal((dim, catalog.dim)) / np.sqrt(dim)).astype(np.float32)
    adapted = adapt_catalog(catalog, weight, f"{LOW_DIM_TAG}-{dim}")
    personas = AdaptedEncoder(text_encoder, weight, adapted.encoder_name)
    pool = persona_pool(adapted, scenario.user_model.heterogeneity, personas)
    return {"catalog": adapted, "user_pool": pool}


def single(n: int, k: int, seed: int, backends: list[str], **kwargs: Any) -> tuple[dict, dict]:
    import driftrec.envs  # noqa: F401  (registers the ids)
    import gymnasium as gym
    from driftrec.benchmarks.throughput import path_options

    fns, envs = {}, {}
    for backend in sorted(set(backends) | {"torch"}):
        env = gym.make("driftrec/Video-v0", num_candidates=n, slate_size=k,
                       **path_options(backend), **kwargs)  # fmt: skip
        env.reset(seed=seed)
        envs[backend] = env

        def step(slate: np.ndarray, env: Any = env) -> bool:
            out = env.step(slate)
            return bool(out[2] or out[3])

        bank = slate_bank(np.random.default_rng(seed), n, k)
        if backend in backends:
            fns[backend] = session_stepper(step, env.reset, bank)
    torch_env = envs["torch"].unwrapped
    fns.update(floor_fns(torch_env.engine, torch_env.item_embeddings, k, seed))
    meta = {
        "pool_lifetime": torch_env.engine.config.pool_lifetime,
        "d": int(torch_env.item_embeddings.shape[1]),
        "M": len(torch_env.item_embeddings),
    }
    return fns, meta


def _autoreset_step(env: Any) -> Any:
    """A vector env's step: it resets ended sessions itself, so the caller never has to."""

    def step(slates: np.ndarray) -> bool:
        env.step(slates)
        return False

    return step


def vector(b: int, n: int, k: int, seed: int, backends: list[str], items: int) -> tuple:
    from driftrec.benchmarks.throughput import path_options, slate_batches, synthetic_catalog
    from driftrec.envs import DriftRecVectorEnv

    catalog = synthetic_catalog(items, 384)
    fns, envs = {}, {}
    for backend in sorted(set(backends) | {"torch"}):
        env = DriftRecVectorEnv(b, "video", catalog=catalog, num_candidates=n, slate_size=k,
                                **path_options(backend))  # fmt: skip
        env.reset(seed=seed)
        envs[backend] = env
        bank = slate_batches(np.random.default_rng(seed), b, n, k)
        if backend in backends:
            fns[backend] = session_stepper(_autoreset_step(env), lambda: None, bank)
    engine = envs["torch"].engine
    fns.update(floor_fns(engine, catalog.embeddings, b * k, seed))
    meta = {"pool_lifetime": engine.config.pool_lifetime, "d": 384, "M": items}
    return fns, meta


def main() -> None:
    torch.set_num_threads(1)
    mode, *args = sys.argv[1:]
    if mode == "single":
        n, k, seed = (int(a) for a in args[:3])
        encoder = args[4] if len(args) > 4 and args[4] != "-" else None  # None: the env's own
        kwargs: dict[str, Any] = {"encoder": encoder} if encoder else {}
        if len(args) > 5:
            kwargs = low_dim_world(int(args[5]), encoder)
        fns, meta = single(n, k, seed, args[3].split(","), **kwargs)
        if len(args) > 5:
            meta.update(space=f"{LOW_DIM_TAG} of the catalog's embeddings (seed "
                        f"{LOW_DIM_SEED}), adapt_catalog + AdaptedEncoder")  # fmt: skip
    else:
        b, n, k, seed = (int(a) for a in args[:4])
        fns, meta = vector(b, n, k, seed, args[4].split(","), int(args[5]))
    meta.update(simulator="driftrec", **versions("driftrec", "torch", "numba", "numpy"))
    serve(fns, meta, warmup=3 if mode == "vector" else 20)


if __name__ == "__main__":
    main()
