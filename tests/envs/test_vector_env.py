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
