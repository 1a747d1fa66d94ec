"""The fast path (``envs/model/fast.py``) against the batched torch engine over whole rollouts,
and against the reference step (``envs/model/reference.py``) from the fast path's own state at
every step (the same draws, so every decision must agree and every number within tolerance).

Tolerance: every continuous quantity agrees within ``ATOL + RTOL * |value|`` (ATOL = 2e-4,
RTOL = 2e-5; the worst difference measured on these rollouts is 1.4e-5 · (1 + |value|)). The engine works in
float32 with its interest norm in closed form, the fast path renormalises every step and keeps
scalars in float64: the numbers differ in the last float32 bits. A discrete outcome (a choice, a
rounded rating, a purchase, a churn) can therefore flip only where a uniform lies within that
distance of its threshold (probability ~1e-5 per decision); a user whose outcome flips is
followed no further, and at most one such user is allowed per rollout. Uniforms, candidate
pools, user keys, steps and history ids agree exactly.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from driftrec.envs import DriftRecEnv, DriftRecVectorEnv, rng
from driftrec.envs.builder import build_engine
from driftrec.envs.model.fast import FastEngine, kernels

FAST = ("fast", "fast-blas", "fast-gram")  # the numba paths (per-user products; BLAS blocks;
# catalog scores kept up to date)

ATOL, RTOL = 2e-4, 2e-5
SMALL = {"encoder": "hashing", "num_candidates": 30, "slate_size": 4, "max_steps": 25}
DISCRETE = ("chosen", "item", "clicks", "purchased", "rating", "churned")
CONTINUOUS = ("slate_utilities", "best_utility", "regret", "engagement", "completion", "revenue",
              "drift", "boredom", "budget", "satisfaction", "candidate_utilities")  # fmt: skip


def _pair(catalog, scenario: str, b: int, fast: str = "fast", **overrides):
    """The torch engine and a fast one on the same scenario, both reset with seed 3."""
    out = []
    for backend in ("torch", fast):
        engine = build_engine(scenario, b, catalog, backend=backend, **SMALL, **overrides)
        engine.reset(3)
        out.append(engine)
    return out


def _slates(b: int, steps: int, n: int, k: int, seed: int = 0) -> list[torch.Tensor]:
    gen = np.random.default_rng(seed)
    return [torch.from_numpy(np.argsort(gen.random((b, n)), axis=1)[:, :k]) for _ in range(steps)]


def _close(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-user bool: every entry within the stated tolerance."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    ok = np.abs(a - b) <= ATOL + RTOL * np.abs(a)
    return ok.reshape(ok.shape[0], -1).all(axis=1)


def _state(engine) -> dict[str, np.ndarray]:
    s = engine.state
    return {
        "interest": s.interest.numpy(), "satiation": s.satiation.numpy(),
        "history_responses": s.history_responses.numpy(),
        "budget_state": s.budget.numpy(), "satisfaction_state": s.satisfaction.numpy(),
    }  # fmt: skip


def _exact_state(engine) -> dict[str, np.ndarray]:
    s = engine.state
    keys = ("history_ids", "steps", "generation", "keys", "persona")
    return {k: getattr(s, k).numpy().astype(np.int64) for k in keys}


def _differential(catalog, scenario: str, b: int, steps: int = 40, backend: str = "fast",
                  **overrides) -> int:  # fmt: skip
    """Step both paths with the same slates (autoreset on); assert agreement user by user.
    Returns the number of users followed to the end."""
    ref, fast = _pair(catalog, scenario, b, backend, **overrides)
    synced = np.ones(b, dtype=bool)
    cfg = ref.config
    for t, slate in enumerate(_slates(b, steps, cfg.num_candidates, cfg.slate_size)):
        a, f = ref.step(slate), fast.step(slate)
        assert torch.equal(ref.world.pool_ids, fast.world.pool_ids), f"pool differs at step {t}"
        ia = {k: v.numpy() for k, v in a.info.items()}
        fa = {k: v.numpy() for k, v in f.info.items()}
        assert list(ia) == list(fa)
        same = synced.copy()
        for key in DISCRETE:
            x, y = ia[key].reshape(b, -1), fa[key].reshape(b, -1)
            same &= (x == y).all(axis=1)
        for name, x, y in (("terminated", a.terminated, f.terminated),
                           ("truncated", a.truncated, f.truncated)):  # fmt: skip
            same &= x.numpy() == y.numpy()
        flipped = synced & ~same
        # A flip is allowed only where the inputs of the decision agreed (a threshold tie).
        for key in ("slate_utilities", "budget", "satisfaction"):
            assert _close(ia[key], fa[key])[flipped].all(), (scenario, t, key)
        synced &= same
        for key in CONTINUOUS:
            ok = _close(ia[key], fa[key])
            assert ok[synced].all(), (scenario, t, key, ia[key][~ok], fa[key][~ok])
        assert _close(a.reward.numpy()[:, None], f.reward.numpy()[:, None])[synced].all()
        for key, x in _state(ref).items():
            ok = _close(x, _state(fast)[key])
            assert ok[synced].all(), (scenario, t, key)
        for key, x in _exact_state(ref).items():
            y = _exact_state(fast)[key]
            assert (x.reshape(b, -1) == y.reshape(b, -1)).all(axis=1)[synced].all(), (t, key)
        for key in ("history_ids", "step", "profile_embedding", "candidate_ids"):
            x, y = ref.observation()[key], fast.observation()[key]
            assert (x.reshape(b, -1) == y.reshape(b, -1)).all(axis=1)[synced].all(), (t, key)
        assert np.array_equal(
            ref.observation()["candidate_embeddings"], fast.observation()["candidate_embeddings"]
        )
    assert b - synced.sum() <= 1, f"{b - synced.sum()} users' discrete outcomes flipped"
    return int(synced.sum())


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("b", [1, 4, 64])
@pytest.mark.parametrize("scenario", ["video", "news", "shopping"])
def test_fast_path_equals_torch_engine_on_every_preset(catalog, scenario, b, backend):
    assert _differential(catalog, scenario, b, backend=backend) >= b - 1


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("b", [1, 4, 64])
@pytest.mark.parametrize("choice", ["mnl", "cascade", "independent"])
def test_fast_path_equals_torch_engine_for_every_choice_model(catalog, choice, b, backend):
    overrides = {"choice_model": choice, "reward": "mixed", "reward_weights": (1.0, 2.0, 0.5, 0.3)}
    assert _differential(catalog, "video", b, steps=30, backend=backend, **overrides) >= b - 1


def test_kernel_uniforms_are_bit_identical_to_rng_streams():
    """The kernels' hash gives the very uniforms of ``rng.uniform(rng.mix(...))``."""
    k = kernels()
    seed = rng.seed_keys(2**70 + 5).draws
    keys = torch.tensor([0, 1, 7, 2**31, 2**32 - 1, 123456789], dtype=torch.int64)
    steps = torch.tensor([0, 3, 2**32 - 1, 99, 1, 2**40], dtype=torch.int64)
    expected = rng.uniform(rng.mix(seed, rng.STREAM_STEP, keys, steps), 25, dtype=torch.float64)
    index_hash = rng._index_hash(25, torch.device("cpu")).numpy()
    prefix = rng.mix_int(seed, rng.STREAM_STEP)
    got = np.empty((6, 25))
    for i, (key, step) in enumerate(zip(keys.tolist(), steps.tolist())):
        h = k.hash32(k.hash32(prefix ^ (key & rng.MASK32)) ^ (step & rng.MASK32))
        k.uniforms(h, index_hash, 25, got[i])
    assert np.array_equal(got, expected.numpy())  # float64 of the float32 grid: exact both ways


@pytest.mark.parametrize("m, n", [(1, 1), (2, 2), (240, 30), (240, 240), (5000, 227),
                                  (5000, 228), (5000, 1000)])  # fmt: skip
def test_candidate_pools_are_torch_randperm_bit_for_bit(m, n):
    k = kernels()
    for seed in (0, 1, 2**32 - 1, rng.mix_int(9, rng.STREAM_POOL, 4)):
        out, scratch = np.empty(n, dtype=np.int64), np.arange(m, dtype=np.int64)
        k.randperm_prefix(seed, m, out, scratch, np.empty(n, dtype=np.int64))
        expected = torch.randperm(m, generator=torch.Generator().manual_seed(seed))[:n]
        assert np.array_equal(out, expected.numpy())
        assert np.array_equal(scratch, np.arange(m))  # the workspace is restored


def _fast_rollout(catalog, b: int, backend: str, steps: int = 30, slot: int = 0
                  ) -> list[dict[str, np.ndarray]]:  # fmt: skip
    """The info, state and observation of the user in ``slot`` at every step of a fast engine of
    B users (that slot always gets the same slate, the others random ones)."""
    engine = build_engine("video", b, catalog, backend=backend, **SMALL)
    engine.reset(11)
    out = []
    for slate in _slates(b, steps, 30, 4, seed=b):
        slate[slot] = torch.tensor([3, 1, 4, 0])
        res = engine.step(slate)
        row = {k: v.numpy()[slot].copy() for k, v in res.info.items()}
        row.update({k: v[slot].copy() for k, v in _state(engine).items()})
        row.update({k: v[slot].copy() for k, v in engine.observation().items()})
        row["reward"] = res.reward.numpy()[slot]
        out.append(row)
    return out


@pytest.mark.parametrize("backend", FAST)
def test_fast_trajectory_is_bit_identical_whatever_b(catalog, backend):
    one, four, many = (_fast_rollout(catalog, b, backend) for b in (1, 4, 64))
    assert sum(int(r["chosen"]) >= 0 for r in one) >= 5  # the user does consume
    for a, b, c in zip(one, four, many):
        for key in a:
            assert np.array_equal(a[key], b[key]) and np.array_equal(a[key], c[key]), key
    # A user past the first BLAS block (slot 5: second scoring block of four, first walk block of
    # sixteen) is the same beside 2 other users of its block as beside 58 others.
    seven, many = (_fast_rollout(catalog, b, backend, steps=20, slot=5) for b in (7, 64))
    for a, c in zip(seven, many):
        for key in a:
            assert np.array_equal(a[key], c[key]), key


@pytest.mark.parametrize("backend", ["fast", "fast-blas", "fast-gram", "torch"])
def test_gymnasium_and_sb3_check_env_pass_on_each_backend(catalog, backend):
    import gymnasium as gym
    from driftrec.envs import ENV_IDS, FlatObservation, ScoreAction
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    for env_id in sorted(ENV_IDS.values()):
        env = gym.make(env_id, catalog=catalog, backend=backend, **SMALL)
        assert env.unwrapped.backend == backend
        check_env(env.unwrapped, skip_render_check=True)
        sb3_check_env(FlatObservation(ScoreAction(env)), warn=False)


def test_single_env_paths_agree_on_keys_dtypes_and_values(catalog):
    envs = [DriftRecEnv("video", catalog=catalog, backend=b, oracle_info=True, **SMALL)
            for b in ("torch", "fast")]  # fmt: skip
    assert isinstance(envs[1].engine, FastEngine) and not isinstance(envs[0].engine, FastEngine)
    outs = [env.reset(seed=5) for env in envs]
    slate = np.array([2, 0, 7, 1])
    for t in range(40):
        if t == 20:  # a reset without a seed: the slot's next user, at the world's clock
            outs = [env.reset() for env in envs]
        else:
            outs = [env.step(slate) for env in envs]
        (obs_t, *rest_t), (obs_f, *rest_f) = outs
        info_t, info_f = rest_t[-1], rest_f[-1]
        assert list(obs_t) == list(obs_f) and list(info_t) == list(info_f)
        for key in obs_t:
            assert obs_t[key].dtype == obs_f[key].dtype and obs_t[key].shape == obs_f[key].shape
            assert _close(obs_t[key][None], obs_f[key][None]).all(), (t, key)
        for key in info_t:
            x, y = np.asarray(info_t[key]), np.asarray(info_f[key])
            assert type(info_t[key]) is type(info_f[key]) and x.dtype == y.dtype, key
            assert _close(x.reshape(1, -1), y.reshape(1, -1)).all(), (t, key)
        if len(rest_t) == 4:
            assert rest_t[:3] == pytest.approx(rest_f[:3], rel=RTOL, abs=ATOL)
            if rest_t[1] or rest_t[2]:
                outs = [env.reset() for env in envs]


@pytest.mark.parametrize("cls", ["single", "vector"])
@pytest.mark.parametrize("backend, message", [
    ("gpu", r"backend must be one of \('fast', 'fast-blas', 'fast-gram', 'torch'\), got 'gpu'"),
    ("", r"backend must be one of \('fast', 'fast-blas', 'fast-gram', 'torch'\), got ''"),
    (None, r"backend must be one of \('fast', 'fast-blas', 'fast-gram', 'torch'\), got None"),
    (1, r"backend must be one of \('fast', 'fast-blas', 'fast-gram', 'torch'\), got 1"),
    ("Fast", r"backend must be one of \('fast', 'fast-blas', 'fast-gram', 'torch'\), got 'Fast'"),
])  # fmt: skip
def test_bad_backend_is_a_value_error_naming_the_choices(catalog, cls, backend, message):
    with pytest.raises(ValueError, match=message):
        if cls == "single":
            DriftRecEnv(catalog=catalog, backend=backend, **SMALL)
        else:
            DriftRecVectorEnv(2, catalog=catalog, backend=backend, **SMALL)


def test_defaults_fast_for_one_user_torch_for_the_vector_env(catalog):
    assert DriftRecEnv(catalog=catalog, **SMALL).backend == "fast"
    assert DriftRecVectorEnv(3, catalog=catalog, **SMALL).backend == "torch"
    assert DriftRecVectorEnv(3, catalog=catalog, backend="fast", **SMALL).backend == "fast"


BAD_SLATES = [
    (np.array([0, 0, 1, 2]), ValueError), (np.array([0, 1, 2, 30]), ValueError),
    (np.array([-1, 1, 2, 3]), ValueError), (np.array([0, 1, 2]), ValueError),
    (np.array([[0, 1, 2, 3]]), ValueError), (np.array([0.0, 1.0, 2.0, 3.0]), TypeError),
    (np.array([0, 1, 2, 3], dtype=np.int32)[[0, 1, 2, 2]], ValueError),
    (np.array([0, 1, 2, 3, 4, 5, 6, 7])[::2][[0, 0, 1, 2]], ValueError), ("0123", TypeError),
    (None, TypeError), ([0, 1, 2, 2**63 - 1], ValueError), (True, TypeError),
]  # fmt: skip


@pytest.mark.parametrize("bad, error", BAD_SLATES)
def test_bad_actions_get_the_same_error_on_both_paths_and_change_nothing(catalog, bad, error):
    messages = []
    for backend in ("torch", "fast"):
        env = DriftRecEnv(catalog=catalog, backend=backend, **SMALL)
        env.reset(seed=0)
        before = {k: v.copy() for k, v in _state(env.engine).items()}
        steps, pool = int(env.engine.state.steps[0]), env.engine.world.pool_ids.clone()
        with pytest.raises(error) as raised:
            env.step(bad)
        messages.append(str(raised.value))
        assert int(env.engine.state.steps[0]) == steps
        assert torch.equal(env.engine.world.pool_ids, pool)
        for key, value in _state(env.engine).items():
            assert np.array_equal(value, before[key]), key
    assert messages[0] == messages[1]


def test_vector_env_fast_path_autoresets_like_the_torch_engine(catalog):
    envs = [DriftRecVectorEnv(8, catalog=catalog, backend=b, **{**SMALL, "max_steps": 4})
            for b in ("torch", "fast")]  # fmt: skip
    for env in envs:
        env.reset(seed=2)
    actions = np.tile(np.arange(4), (8, 1))
    for _ in range(6):
        (_, r_t, te_t, tr_t, info_t), (_, r_f, te_f, tr_f, info_f) = (e.step(actions) for e in envs)
        assert np.array_equal(tr_t, tr_f) and np.array_equal(te_t, te_f)
        assert _close(r_t[:, None], r_f[:, None]).all()
        if tr_t.any():
            assert np.array_equal(info_t["_final_obs"], info_f["_final_obs"])
            for row in np.flatnonzero(info_t["_final_obs"]):
                a, b = info_t["final_obs"][row], info_f["final_obs"][row]
                assert list(a) == list(b)
                for key in a:
                    assert _close(a[key][None], b[key][None]).all(), key


@pytest.mark.parametrize("backend", FAST)
def test_fast_engine_survives_pickle_with_live_state_views(catalog, backend):
    import pickle

    env = DriftRecEnv(catalog=catalog, backend=backend, **SMALL)
    env.reset(seed=1)
    env.step(np.array([0, 1, 2, 3]))
    twin = pickle.loads(pickle.dumps(env))
    for e in (env, twin):
        e.step(np.array([4, 5, 6, 7]))
    assert np.array_equal(env.engine.state.interest.numpy(), twin.engine.state.interest.numpy())
    assert int(twin.engine.state.steps[0]) == 2 == twin.engine.world.global_step


def test_compiled_kernels_are_cached_in_the_driftrec_cache_dir_only(tmp_path, monkeypatch):
    from pathlib import Path

    import numba
    from driftrec.encoders.cache_dir import resolve_cache_dir
    from driftrec.envs.model import fast_kernels

    kernels()
    assert list((resolve_cache_dir() / "numba").rglob("fast_kernels.step_all-*.nbi"))
    package = Path(fast_kernels.__file__).parent
    assert not list(package.rglob("*.nbi")) and not list(package.rglob("*.nbc"))
    # A function decorated by the kernels' ``jit`` caches under the cache dir of that moment and
    # leaves numba's own setting as it was.
    monkeypatch.setenv("DRIFTREC_CACHE_DIR", str(tmp_path))
    before = numba.config.CACHE_DIR

    def twice(x):
        return 2 * x

    assert fast_kernels.jit()(twice)(21) == 42 and numba.config.CACHE_DIR == before
    assert list((tmp_path / "numba").rglob("*twice*.nbi"))


def _reference_check(catalog, scenario: str, b: int, steps: int, backend: str = "fast",
                     **overrides) -> int:  # fmt: skip
    """From the fast engine's own state at every step, the reference step must produce what the
    fast step did (same draws), and the same next state. Returns the decisions compared."""
    from driftrec.envs.model import ReferenceParams, ReferenceState, reference_step, step_draws

    fast = build_engine(scenario, b, catalog, backend=backend, **SMALL, **overrides)
    fast.reset(8)
    params = ReferenceParams.from_engine(fast)
    cfg = fast.config
    for t, slate in enumerate(_slates(b, steps, cfg.num_candidates, cfg.slate_size, seed=5)):
        before = ReferenceState.from_engine(fast)
        expected, outcome = reference_step(before, slate, params, step_draws(before, params))
        got = fast.step(slate)
        info = {k: v.numpy() for k, v in got.info.items()}
        ref = {k: v.numpy() for k, v in outcome.as_dict().items()}
        for key in DISCRETE + ("terminated", "truncated"):
            x = ref[key].reshape(b, -1)
            y = (info[key] if key in info else getattr(got, key).numpy()).reshape(b, -1)
            assert (x == y).all(), (scenario, t, key)
        for key in CONTINUOUS[:-1] + ("reward",):
            y = info[key] if key in info else got.reward.numpy()
            assert _close(ref[key].reshape(b, -1), y.reshape(b, -1)).all(), (scenario, t, key)
        after = ReferenceState.from_engine(fast)
        for key in ("interest", "satiation", "budget", "satisfaction", "history_responses"):
            assert _close(getattr(expected, key).numpy(), getattr(after, key).numpy()).all(), key
        for key in ("history_ids", "steps", "generation", "keys", "persona", "pool_ids"):
            assert torch.equal(getattr(expected, key), getattr(after, key)), (t, key)
    return steps * b


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("b", [1, 4, 64])
@pytest.mark.parametrize("scenario", ["video", "news", "shopping"])
def test_fast_path_equals_the_reference_step_on_every_preset(catalog, scenario, b, backend):
    assert _reference_check(catalog, scenario, b, steps=12, backend=backend) == 12 * b


@pytest.mark.parametrize("backend", FAST)
@pytest.mark.parametrize("b", [1, 4, 64])
@pytest.mark.parametrize("choice", ["cascade", "independent"])
def test_fast_path_equals_the_reference_step_for_every_choice_model(catalog, choice, b, backend):
    _reference_check(catalog, "video", b, steps=12, backend=backend, choice_model=choice,
                     reward="rating")  # fmt: skip


def test_fast_backend_on_a_gpu_device_is_an_error_not_a_silent_cpu_run(catalog):
    from driftrec.envs.config import ScenarioConfig

    config = ScenarioConfig(**{**SMALL, "encoder": "hashing"})
    object.__setattr__(config, "device", "cuda")  # past the config's own CUDA check
    with pytest.raises(ValueError, match=r"backend='fast' runs on the CPU, got device='cuda'; "
                                         r"use backend='torch'"):  # fmt: skip
        FastEngine(catalog, config, 2)


# ------------------------------------------------------------------ observe_candidate_embeddings
def _envs_without_embeddings(catalog, cls: str, backend: str, **kw):
    """The same env twice, observing candidate embeddings and not (same seed)."""
    out = []
    for flag in (True, False):
        if cls == "single":
            env = DriftRecEnv(catalog=catalog, backend=backend, observe_candidate_embeddings=flag,
                              **{**SMALL, **kw})  # fmt: skip
        else:
            env = DriftRecVectorEnv(3, catalog=catalog, backend=backend,
                                    observe_candidate_embeddings=flag, **{**SMALL, **kw})  # fmt: skip
        out.append(env)
    return out


@pytest.mark.parametrize("cls", ["single", "vector"])
@pytest.mark.parametrize("backend", ["fast", "fast-blas", "fast-gram", "torch"])
def test_without_candidate_embeddings_obs_and_space_lack_the_key_and_the_table_has_the_rows(
    catalog, cls, backend
):
    full, lean = _envs_without_embeddings(catalog, cls, backend, max_steps=3)
    space = lean.single_observation_space if cls == "vector" else lean.observation_space
    assert "candidate_embeddings" not in space.spaces and len(space.spaces) == 8
    table = lean.item_embeddings
    assert not table.flags.writeable and table.shape == full.item_embeddings.shape
    with pytest.raises(ValueError, match="read-only"):
        table[0, 0] = 1.0
    outs = [env.reset(seed=4) for env in (full, lean)]
    action = np.array([3, 0, 2, 1]) if cls == "single" else np.tile(np.arange(4), (3, 1))
    leaving = 0
    for t in range(6):  # through the end of sessions (max_steps 3): final observations too
        (obs_f, *_), (obs_l, *rest_l) = outs
        assert list(obs_l) == [k for k in obs_f if k != "candidate_embeddings"]
        assert space.contains(obs_l) or cls == "vector"
        assert np.array_equal(obs_f["candidate_embeddings"], table[obs_l["candidate_ids"]])
        for key in obs_l:
            assert np.array_equal(obs_f[key], obs_l[key]), (t, key)
        if cls == "vector" and rest_l[-1].get("_final_obs", np.zeros(1)).any():
            final = rest_l[-1]["final_obs"][np.flatnonzero(rest_l[-1]["_final_obs"])[0]]
            assert list(final) == list(obs_l) and final["step"][0] == 3
            leaving += 1
        if cls == "single" and len(rest_l) == 4 and (rest_l[1] or rest_l[2]):
            outs = [env.reset() for env in (full, lean)]
        else:
            outs = [env.step(action) for env in (full, lean)]
    assert leaving == (1 if cls == "vector" else 0)  # the vector env's users leave at step 3


@pytest.mark.parametrize("backend", ["fast", "torch"])
def test_without_candidate_embeddings_gymnasium_and_sb3_check_env_pass(catalog, backend):
    import gymnasium as gym
    from driftrec.envs import FlatObservation, ScoreAction
    from gymnasium.utils.env_checker import check_env
    from stable_baselines3.common.env_checker import check_env as sb3_check_env

    env = gym.make("driftrec/Video-v0", catalog=catalog, backend=backend,
                   observe_candidate_embeddings=False, **SMALL)  # fmt: skip
    check_env(env.unwrapped, skip_render_check=True)
    sb3_check_env(FlatObservation(ScoreAction(env)), warn=False)
    full = FlatObservation(ScoreAction(gym.make("driftrec/Video-v0", catalog=catalog,
                                                backend=backend, **SMALL)))  # fmt: skip
    lean = FlatObservation(ScoreAction(env))
    assert np.array_equal(full.reset(seed=2)[0], lean.reset(seed=2)[0])


@pytest.mark.parametrize("name", ["random", "popular", "quality", "greedy", "oracle", "egreedy",
                                  "linucb", "thompson", "slateq", "transformer"])  # fmt: skip
def test_agents_act_on_observations_without_candidate_embeddings_as_with_them(catalog, name):
    from driftrec.agents import make_agent

    full, lean = _envs_without_embeddings(catalog, "vector", "fast")
    agents = [make_agent(name, env, seed=7) for env in (full, lean)]
    (obs_f, info_f), (obs_l, info_l) = (env.reset(seed=1) for env in (full, lean))
    for _ in range(2):
        actions = [agent.act(o, i) for agent, o, i in zip(agents, (obs_f, obs_l), (info_f, info_l))]
        assert actions[0].shape == (3, 4) and np.array_equal(actions[0], actions[1]), name
        outs = [env.step(a) for env, a in zip((full, lean), actions)]
        for agent, o, a, out in zip(agents, (obs_f, obs_l), actions, outs):
            agent.update(o, a, out[1], out[0], out[2], out[3], out[4])
        (obs_f, *_, info_f), (obs_l, *_, info_l) = outs


@pytest.mark.parametrize("value", [1, 0, "False", None, np.array([True]), [False], 1.0])
@pytest.mark.parametrize("cls", ["single", "vector"])
def test_observe_candidate_embeddings_must_be_a_bool(catalog, cls, value):
    message = (r"observe_candidate_embeddings must be True or False, got .* of type "
               + type(value).__name__)  # fmt: skip
    with pytest.raises(TypeError, match=message):
        if cls == "single":
            DriftRecEnv(catalog=catalog, observe_candidate_embeddings=value, **SMALL)
        else:
            DriftRecVectorEnv(2, catalog=catalog, observe_candidate_embeddings=value, **SMALL)


@pytest.mark.parametrize("ids, error, message", [
    (np.full(30, 10**6), ValueError,
     r"holds ids in \[1000000, 1000000\], outside the agent's item table of \d+ items"),
    (np.full(30, -1), ValueError, r"holds ids in \[-1, -1\], outside"),
    (np.zeros(30, dtype=np.float32), TypeError, r"has dtype float32; expected integer catalog ids"),
])  # fmt: skip
def test_an_agent_rejects_candidate_ids_it_cannot_look_up(catalog, ids, error, message):
    from driftrec.agents import make_agent

    env = DriftRecEnv(catalog=catalog, observe_candidate_embeddings=False, **SMALL)
    agent = make_agent("greedy", env, seed=0)
    obs, _ = env.reset(seed=0)
    with pytest.raises(error, match=message):
        agent.act({**obs, "candidate_ids": ids})


BAD_BATCHES = [
    np.array([[0, 0, 1, 2]] * 3), np.array([[0, 1, 2, 30]] * 3), np.array([[-1, 1, 2, 3]] * 3),
    np.tile(np.arange(3), (3, 1)), np.tile(np.arange(4), (2, 1)), np.tile(np.arange(4.0), (3, 1)),
    np.array([[0, 1, 2, 2, 9]] * 3, dtype=np.int32)[:, :4],
    np.asfortranarray(np.array([[0, 1, 1, 2]] * 3)), None,
]  # fmt: skip


@pytest.mark.parametrize("bad", BAD_BATCHES, ids=range(len(BAD_BATCHES)))
def test_vector_env_bad_actions_get_the_torch_error_on_every_path_and_change_nothing(catalog, bad):
    messages = []
    for backend in ("torch", "fast", "fast-blas", "fast-gram"):
        env = DriftRecVectorEnv(3, catalog=catalog, backend=backend, **SMALL)
        env.reset(seed=0)
        before = {k: v.copy() for k, v in _state(env.engine).items()}
        with pytest.raises((TypeError, ValueError)) as raised:
            env.step(bad)
        messages.append(f"{type(raised.value).__name__}: {raised.value}")
        assert int(env.engine.world.global_step) == 0
        for key, value in _state(env.engine).items():
            assert np.array_equal(value, before[key]), key
    assert len(set(messages)) == 1, messages


def test_fast_gram_catalog_scores_stay_equal_to_the_products_over_thousands_of_steps(catalog):
    """``fast-gram`` keeps E u and E s by updates instead of recomputing them: over 3,000 steps of
    users who never leave (drift, walk and satiation at every step), they must stay the products
    of the catalog with the true u and s (rounding must not accumulate)."""
    engine = build_engine("video", 2, catalog, backend="fast-gram", budget_enabled=False,
                          hazard_enabled=False, **{**SMALL, "max_steps": 10_000})  # fmt: skip
    engine.reset(11)
    emb = engine.embeddings.numpy().astype(np.float64)
    slates = _slates(2, 64, engine.config.num_candidates, engine.config.slate_size, seed=2)
    worst = 0.0
    for t in range(3000):
        engine.step_arrays(np.ascontiguousarray(slates[t % 64].numpy()))
        if t % 500 == 499:
            for true, kept in ((engine.state.interest, engine._cu),
                               (engine.state.satiation, engine._cs)):  # fmt: skip
                worst = max(worst, np.abs(true.numpy().astype(np.float64) @ emb.T - kept).max())
    assert engine.user_steps(0) == engine.user_steps(1) == 3000
    assert np.abs(engine.state.satiation.numpy()).max() > 0.01  # satiation was exercised
    assert worst < 1e-6, worst


def test_fast_gram_refuses_a_catalog_above_its_limit_naming_m_and_the_limit(catalog, monkeypatch):
    from driftrec.envs.model import fast

    monkeypatch.setattr(fast, "GRAM_MAX_ITEMS", len(catalog) - 1)
    message = (rf"backend='fast-gram' keeps the catalog's \(M, M\) Gram matrix and accepts at "
               rf"most {len(catalog) - 1} items, got a catalog of M={len(catalog)} .*; use "
               r"backend='fast'")  # fmt: skip
    with pytest.raises(ValueError, match=message):
        DriftRecEnv(catalog=catalog, backend="fast-gram", **SMALL)
    assert DriftRecEnv(catalog=catalog, backend="fast", **SMALL).backend == "fast"
