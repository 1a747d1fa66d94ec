"""The single-user env: Gymnasium/SB3 contracts, bad inputs with the state unchanged, render."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from driftrec.envs import ENV_IDS, DriftRecEnv, EpisodeEndedError, FlatObservation, ScoreAction
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}


@pytest.mark.parametrize("env_id", sorted(ENV_IDS.values()))
def test_gymnasium_check_env_passes(catalog, env_id):
    env = gym.make(env_id, catalog=catalog, **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any checker warning fails the test
        check_env(env.unwrapped)


@pytest.mark.parametrize("env_id", sorted(ENV_IDS.values()))
def test_sb3_check_env_passes_through_flat_and_score_wrappers(catalog, env_id):
    env = FlatObservation(ScoreAction(gym.make(env_id, catalog=catalog, **SMALL)))
    sb3_check_env(env, warn=True)
    assert env.observation_space.shape == (20 * 64 + 20 * 6 + 20 + 2 * 64 + 1,)


def test_observation_never_contains_hidden_state(catalog):
    env = DriftRecEnv(catalog=catalog, **SMALL)
    obs, info = env.reset(seed=0)
    assert set(obs) == {
        "candidate_ids", "candidate_embeddings", "candidate_categories", "candidate_popularity",
        "history_ids", "history_responses", "history_mask", "profile_embedding", "step",
    }  # fmt: skip
    interest = env.engine.state.interest[0].numpy()
    assert not np.allclose(obs["profile_embedding"], interest)
    assert info["candidate_utilities"].shape == (20,)


def _fresh(catalog):
    env = DriftRecEnv(catalog=catalog, **SMALL)
    env.reset(seed=7)
    return env


def _same_step(a, b):
    oa, ra, tea, tra, ia = a
    ob, rb, teb, trb, ib = b
    assert (ra, tea, tra) == (rb, teb, trb)
    for key in oa:
        assert np.array_equal(oa[key], ob[key])
    assert np.array_equal(ia["slate_utilities"], ib["slate_utilities"])


@pytest.mark.parametrize(
    ("bad", "error", "message"),
    [
        (np.array([1, 1, 2]), ValueError, r"duplicate positions \[1, 1\]; expected K=3 distinct"),
        (np.array([0, 1, 20]), ValueError, r"positions \[20\] out of range; expected .* \[0, 20\)"),
        (np.array([-1, 1, 2]), ValueError, r"positions \[-1\] out of range"),
        (np.array([0, 1]), ValueError, r"slate has shape \(2,\); expected \(3,\)"),
        (np.array([[0, 1, 2]]), ValueError, r"slate has shape \(1, 3\); expected \(3,\)"),
        (np.array([0.0, 1.0, 2.0]), TypeError, r"integer dtype .* got dtype float64"),
        (np.array([np.nan, 1.0, 2.0]), TypeError, r"integer dtype"),
        ("0,1,2", TypeError, r"slate must be an integer array"),
    ],
)
def test_bad_slate_raises_and_leaves_state_unchanged(catalog, bad, error, message):
    env, reference = _fresh(catalog), _fresh(catalog)
    good = np.array([4, 2, 9])
    _same_step(env.step(good), reference.step(good))
    with pytest.raises(error, match=message):
        env.step(bad)
    _same_step(env.step(good), reference.step(good))


def test_step_after_termination_without_reset_raises(catalog):
    env = DriftRecEnv(catalog=catalog, max_steps=3, **SMALL)
    env.reset(seed=0)
    for _ in range(3):
        *_, terminated, truncated, _ = env.step(np.array([0, 1, 2]))
        if terminated or truncated:
            break
    with pytest.raises(EpisodeEndedError, match=r"after the episode ended.*call reset\(\)"):
        env.step(np.array([0, 1, 2]))
    assert isinstance(EpisodeEndedError("x"), ValueError)
    env.reset()
    env.step(np.array([0, 1, 2]))


def test_step_before_reset_raises(catalog):
    with pytest.raises(EpisodeEndedError, match=r"before reset\(\)"):
        DriftRecEnv(catalog=catalog, **SMALL).step(np.array([0, 1, 2]))


def test_constructor_rejects_bad_overrides(catalog):
    with pytest.raises(ValueError, match=r"unknown override 'num_candidate'"):
        DriftRecEnv(catalog=catalog, num_candidate=5)
    with pytest.raises(ValueError, match=r"num_candidates N=500 exceeds the catalog size M=240"):
        DriftRecEnv(catalog=catalog, encoder="hashing", num_candidates=500)
    with pytest.raises(
        ValueError, match=r"render_mode must be None or one of 'ansi', 'rgb_array', got 'human'"
    ):
        DriftRecEnv(catalog=catalog, render_mode="human", **SMALL)
    with pytest.raises(ValueError, match=r"unknown scenario 'music'"):
        DriftRecEnv("music", catalog=catalog)


def test_render_ansi_describes_the_step(catalog):
    env = DriftRecEnv(catalog=catalog, render_mode="ansi", **SMALL)
    env.reset(seed=0)
    assert env.render() == "(no step yet)"
    env.step(np.array([0, 1, 2]))
    line = env.render()
    title = catalog.titles[int(env.engine.world.pool_ids[0])]
    assert line.startswith("[u0 t=0] 1. ") and "budget" in line
    assert title[:10] in line or "*" in line


def test_reset_with_seed_reproduces_and_without_seed_brings_a_new_user(catalog):
    env = DriftRecEnv(catalog=catalog, **SMALL)
    first, _ = env.reset(seed=3)
    again, _ = env.reset(seed=3)
    assert np.array_equal(first["profile_embedding"], again["profile_embedding"])
    keys = set()
    for _ in range(6):
        env.reset()
        keys.add(int(env.engine.state.keys[0]))
    assert len(keys) == 6


@pytest.mark.parametrize("view", ["pca", "noise", "encoder"])
def test_agent_view_knob_changes_agent_embeddings_only(catalog, view):
    env = DriftRecEnv(
        catalog=catalog, agent_view=view, agent_dim=16, agent_encoder="hashing", **SMALL
    )
    obs, _ = env.reset(seed=0)
    expect_dim = {"pca": 16, "noise": 64, "encoder": 256}[view]
    assert obs["candidate_embeddings"].shape == (20, expect_dim)
    assert obs["profile_embedding"].shape == (expect_dim,)
    assert env.observation_space.contains(obs)
    if view == "noise":
        ids = obs["candidate_ids"]
        assert not np.allclose(obs["candidate_embeddings"], catalog.embeddings[ids])


def test_env_docstring_example_runs():
    """The Gymnasium-format docstring's example is a doctest (built-in news catalog, hashing)."""
    import doctest

    import driftrec.envs.env as env_module

    result = doctest.testmod(env_module, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 5 and result.failed == 0


def _first_steps(env, seed: int) -> list[np.ndarray]:
    obs, _ = env.reset(seed=seed)
    out = [obs["candidate_ids"].copy(), obs["profile_embedding"].copy()]
    for _ in range(3):
        obs, reward, terminated, truncated, _ = env.step(np.array([0, 1, 2]))
        out += [np.array([reward]), obs["candidate_ids"].copy()]
        if terminated or truncated:
            break
    return out


def test_seeds_beyond_32_bits_do_not_replay_seed_zero(catalog):
    # Issue 29: reset(seed=2**32) and reset(seed=2**64) replayed seed 0 (keys masked to 32 bits).
    env = gym.make("driftrec/Video-v0", catalog=catalog, **SMALL)
    zero = _first_steps(env, 0)
    for seed in (2**32, 2**64, 2**70):
        run = _first_steps(env, seed)
        assert not np.array_equal(run[0], zero[0]), seed
        assert all(np.array_equal(a, b) for a, b in zip(_first_steps(env, seed), run))


@pytest.mark.parametrize(
    ("seed", "message"),
    [
        (-1, r"seed must be a non-negative int \(of any size\), got -1"),
        (2.0, r"seed must be None or a non-negative int, got 2.0 of type float"),
        ([3], r"got a list \[3\]; one seed seeds every user"),
    ],
)
def test_bad_seed_through_gym_make_raises_gymnasium_error(catalog, seed, message):
    env = gym.make("driftrec/Video-v0", catalog=catalog, **SMALL)
    with pytest.raises(gym.error.Error, match=message):
        env.reset(seed=seed)
    with pytest.raises(ValueError, match=r"reset options must be None or an empty dict"):
        env.reset(seed=0, options={"difficulty": 2})
