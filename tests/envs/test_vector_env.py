"""The native vector env: make_vec, SAME_STEP autoreset with final_obs, bad batched input."""

import gymnasium as gym
import numpy as np
import pytest
from driftrec.envs import DriftRecVectorEnv, FlatObservation, ScoreAction
from gymnasium.vector import AutoresetMode

SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}


def test_make_vec_returns_native_vector_env_with_overrides(catalog):
    env = gym.make_vec(
        "driftrec/News-v0", num_envs=6, vectorization_mode="vector_entry_point",
        catalog=catalog, **SMALL,
    )  # fmt: skip
    assert isinstance(env, DriftRecVectorEnv)
    assert env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    assert env.action_space.shape == (6, 3)
    obs, info = env.reset(seed=0)
    assert env.observation_space.contains(obs)
    assert obs["candidate_embeddings"].shape == (6, 20, 64)
    assert info["candidate_utilities"].shape == (6, 20)
    assert "candidate_values" not in info  # oracle info only when asked for
    assert env.config.reward == "clicks"


def test_oracle_info_adds_candidate_values_that_match_the_engine(catalog):
    env = DriftRecVectorEnv(4, "news", catalog=catalog, oracle_info=True, **SMALL)
    _, info = env.reset(seed=0)
    assert info["candidate_values"].shape == (4, 20)
    later = DriftRecVectorEnv(4, "news", catalog=catalog, **SMALL)
    _, plain = later.reset(seed=0)
    assert "candidate_values" not in plain
    later.enable_oracle_info()  # switched on later: same numbers from the next step on
    action = np.tile(np.arange(3), (4, 1))
    a = env.step(action)[4]["candidate_values"]
    b = later.step(action)[4]["candidate_values"]
    np.testing.assert_array_equal(a, b)
    # Clicks reward: the value of a candidate is its click probability.
    assert np.all((a >= 0) & (a <= 1))


def test_autoreset_replaces_departing_users_in_the_same_step(catalog):
    env = DriftRecVectorEnv(8, catalog=catalog, max_steps=5, **SMALL)
    env.reset(seed=1)
    seen_final = 0
    for _ in range(12):
        before_keys = env.engine.state.keys.clone()
        obs, _reward, terminated, truncated, info = env.step(env.action_space.sample())
        done = terminated | truncated
        assert not (terminated & truncated).any()
        if done.any():
            assert np.array_equal(info["_final_obs"], done)
            for i in np.flatnonzero(done):
                final = info["final_obs"][i]
                assert env.single_observation_space.contains(final)
                assert obs["step"][i, 0] == 0 and obs["history_mask"][i].sum() == 0
                assert int(env.engine.state.keys[i]) != int(before_keys[i])
            assert all(info["final_obs"][i] is None for i in np.flatnonzero(~done))
            seen_final += int(done.sum())
        assert (obs["step"][~done, 0] > 0).all()
    assert seen_final >= 8  # every slot truncates at max_steps=5 at least once


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda a: a.__setitem__((2, 1), a[2, 0]), ValueError, r"duplicate positions .* at user 2"),
        (
            lambda a: a.__setitem__((3, 0), 99),
            ValueError,
            r"positions \[99\] out of range at user 3",
        ),
        (lambda a: a[:, :2], ValueError, r"slate has shape \(4, 2\); expected \(4, 3\)"),
        (lambda a: a.astype(np.float32), TypeError, r"integer dtype"),
    ],
)
def test_bad_batched_slate_raises_and_leaves_state_unchanged(catalog, mutate, error, message):
    env = DriftRecVectorEnv(4, catalog=catalog, **SMALL)
    ref = DriftRecVectorEnv(4, catalog=catalog, **SMALL)
    env.reset(seed=2)
    ref.reset(seed=2)
    good = np.tile(np.array([5, 1, 7]), (4, 1))
    bad = good.copy()
    out = mutate(bad)
    bad = bad if out is None else out
    with pytest.raises(error, match=message):
        env.step(bad)
    a, b = env.step(good), ref.step(good)
    assert np.array_equal(a[1], b[1])
    for key in a[0]:
        assert np.array_equal(a[0][key], b[0][key])


def test_vector_wrappers_flatten_and_rank_scores(catalog):
    env = FlatObservation(ScoreAction(DriftRecVectorEnv(3, catalog=catalog, max_steps=4, **SMALL)))
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, env.single_observation_space.shape[0]) and obs.dtype == np.float32
    scores = np.tile(np.linspace(1, -1, 20, dtype=np.float32), (3, 1))
    for _ in range(4):
        obs, _reward, _term, _trunc, info = env.step(scores)
    assert info["_final_obs"].all()
    assert info["final_obs"][0].shape == obs.shape[1:]
    with pytest.raises(ValueError, match=r"non-finite value nan at index \(1, 4\)"):
        bad = scores.copy()
        bad[1, 4] = np.nan
        env.step(bad)


def test_render_ansi_shows_one_line_per_user(catalog):
    env = DriftRecVectorEnv(3, catalog=catalog, render_mode="ansi", **SMALL)
    env.reset(seed=0)
    env.step(env.action_space.sample())
    lines = env.render().splitlines()
    assert [line[:4] for line in lines] == ["[u0 ", "[u1 ", "[u2 "]


def _seeded_run(env, seed: int, steps: int = 4) -> list[np.ndarray]:
    """Candidate ids, profiles and rewards of a short seeded run with fixed slates."""
    obs, _ = env.reset(seed=seed)
    out = [obs["candidate_ids"][0].copy(), obs["profile_embedding"].copy()]
    slate = np.tile(np.array([0, 1, 2]), (env.num_envs, 1))
    for _ in range(steps):
        obs, reward, *_ = env.step(slate)
        out += [reward, obs["candidate_ids"][0].copy()]
    return out


def test_seeds_of_any_size_are_distinct_and_reproducible(catalog):
    # Issue 29: seeds were masked to 32 bits, so 2**32 and 2**64 replayed seed 0.
    env = DriftRecVectorEnv(4, catalog=catalog, **SMALL)
    seeds = [0, 2**32, 2**64, 2**70, 2**70 + 2**32]
    runs = {seed: _seeded_run(env, seed) for seed in seeds}
    for i, a in enumerate(seeds):
        for b in seeds[i + 1 :]:
            assert not np.array_equal(runs[a][0], runs[b][0]), (a, b)  # candidate pools
            assert not np.array_equal(runs[a][2], runs[b][2]), (a, b)  # first rewards
    again = _seeded_run(DriftRecVectorEnv(4, catalog=catalog, **SMALL), 2**70)
    assert all(np.array_equal(x, y) for x, y in zip(again, runs[2**70]))


# Bad inputs to the vector env's edge (the register in issue 29's docs/reliability.md): the value,
# the error type and the message it must carry. Every one leaves the env's state unchanged.
BAD_SEEDS = [
    (-1, r"seed must be a non-negative int \(of any size\), got -1"),
    (-(2**70), r"non-negative int \(of any size\), got -1180591620717411303424"),
    (np.int64(-3), r"non-negative int \(of any size\), got -3"),
    (1.5, r"got 1.5 of type float"),
    (float("nan"), r"got nan of type float"),
    (float("inf"), r"got inf of type float"),
    (np.float32(2.0), r"of type float32"),
    ("3", r"got '3' of type str"),
    (b"3", r"got b'3' of type bytes"),
    (True, r"got True of type bool"),
    (False, r"got False of type bool"),
    (1j, r"got 1j of type complex"),
    ([1, 2], r"got a list \[1, 2\]; one seed seeds every user .* no per-env seeds"),
    ((1,), r"got a tuple \(1,\)"),
    (np.array([1]), r"got a ndarray array\(\[1\]\)"),
]


@pytest.mark.parametrize(("seed", "message"), BAD_SEEDS)
def test_bad_seed_raises_gymnasium_error_and_leaves_state_unchanged(catalog, seed, message):
    env = DriftRecVectorEnv(3, catalog=catalog, **SMALL)
    ref = DriftRecVectorEnv(3, catalog=catalog, **SMALL)
    env.reset(seed=4)
    ref.reset(seed=4)
    slate = np.tile(np.array([2, 0, 1]), (3, 1))
    env.step(slate)
    ref.step(slate)
    # A gymnasium.error.Error, as Gymnasium's own seeding raises for a negative seed.
    with pytest.raises(gym.error.Error, match=message):
        env.reset(seed=seed)
    a, b = env.step(slate), ref.step(slate)
    assert np.array_equal(a[1], b[1])
    assert np.array_equal(a[0]["history_ids"], b[0]["history_ids"])


def test_seed_errors_are_also_value_and_type_errors(catalog):
    env = DriftRecVectorEnv(2, catalog=catalog, **SMALL)
    with pytest.raises(ValueError, match="got -1"):
        env.reset(seed=-1)
    with pytest.raises(TypeError, match="got 1.5"):
        env.reset(seed=1.5)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"x": 1}, r"reset options must be None or an empty dict, got \{'x': 1\}"),
        ("fast", r"got 'fast'; the driftrec envs take no reset options"),
    ],
)
def test_reset_options_that_would_be_ignored_are_an_error(catalog, options, message):
    env = DriftRecVectorEnv(2, catalog=catalog, **SMALL)
    with pytest.raises(ValueError, match=message):
        env.reset(seed=0, options=options)
    obs, _ = env.reset(seed=0, options={})
    assert obs["step"].tolist() == [[0], [0]]


@pytest.mark.parametrize(
    ("num_envs", "error", "message"),
    [
        (0, ValueError, (r"num_envs must be a positive int \(users B\) of at most 2,147,483,647 "
                        r"\(2\*\*31 - 1, torch's largest index\), got 0")),
        (2**70, ValueError, r"got 1180591620717411303424"),
        (-1, ValueError, r"got -1"),
        (1.5, TypeError, r"got 1.5"),
        (True, TypeError, r"got True"),
        ("4", TypeError, r"got '4'"),
        (None, TypeError, r"got None"),
    ],
)
def test_bad_num_envs_is_named_in_the_error(catalog, num_envs, error, message):
    with pytest.raises(error, match=message):
        DriftRecVectorEnv(num_envs, catalog=catalog, **SMALL)


@pytest.mark.parametrize(
    ("slate", "error", "message"),
    [
        (np.array([0, 1, 2]), ValueError, r"slate has shape \(3,\); expected \(3, 3\)"),
        (np.zeros((2, 3), dtype=int), ValueError, r"shape \(2, 3\); expected \(3, 3\)"),
        (np.tile([0, 1, -1], (3, 1)), ValueError, r"positions \[-1\] out of range at user 0"),
        (np.tile([0, 1, 2**40], (3, 1)), ValueError, r"positions \[1099511627776\] out of range"),
        (np.full((3, 3), np.nan), TypeError, r"integer dtype .* got dtype float64"),
        (np.ones((3, 3), dtype=bool), TypeError, r"got dtype bool"),
        (None, TypeError, r"slate must be an integer array, got None"),
        ("0,1,2", TypeError, r"slate must be an integer array, got '0,1,2'"),
    ],
)
def test_more_bad_slates_are_named_in_the_error(catalog, slate, error, message):
    env = DriftRecVectorEnv(3, catalog=catalog, **SMALL)
    env.reset(seed=0)
    with pytest.raises(error, match=message):
        env.step(slate)
    assert env.engine.state.steps.tolist() == [0, 0, 0]
