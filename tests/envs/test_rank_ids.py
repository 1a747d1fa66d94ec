"""The Rank ids (driftrec/VideoRank-v0 ...): score actions, a compact per-candidate feature table,
the textbook SB3 calls (make, make_vec, make_vec_env, check_env without warnings, PPO/A2C learn),
feature values on a hand-made case, determinism, and bad inputs as an executable register."""

from __future__ import annotations

import warnings

import gymnasium as gym
import numpy as np
import pytest
from driftrec.envs import ENV_IDS, RANK_ENV_IDS
from driftrec.envs.candidate_features import FEATURE_COLUMNS, CandidateTable, ItemStats
from driftrec.envs.rank import RankVectorWrapper, RankWrapper
from driftrec.envs.render import FRAME_SHAPE

SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}
F = len(FEATURE_COLUMNS)


@pytest.fixture
def kw(catalog):
    return {"catalog": catalog, **SMALL}


def scores(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.uniform(-1, 1, shape).astype(np.float32)


# --- construction through the textbook calls -----------------------------------------------------


@pytest.mark.parametrize("env_id", sorted(RANK_ENV_IDS.values()))
def test_make_gives_score_actions_and_a_flat_feature_table(kw, env_id):
    env = gym.make(env_id, **kw)
    assert env.observation_space == gym.spaces.Box(-1.0, 1.0, (20 * F,), np.float32)
    assert env.action_space == gym.spaces.Box(-1.0, 1.0, (20,), np.float32)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (20 * F,) and obs.dtype == np.float32
    assert isinstance(env.env.env, RankWrapper)


def test_make_vec_with_the_vector_entry_point_wraps_the_native_vector_env(kw):
    env = gym.make_vec("driftrec/VideoRank-v0", num_envs=3, vectorization_mode="vector_entry_point",
                       **kw)
    assert isinstance(env, RankVectorWrapper)
    assert env.autoreset_mode == env.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, _ = env.reset(seed=0)
    assert obs.shape == (3, 20 * F)
    obs, reward, *_ = env.step(np.zeros((3, 20), np.float32))
    assert obs.shape == (3, 20 * F) and reward.shape == (3,)
    assert env.spec.id == "driftrec/VideoRank-v0"


def test_sb3_make_vec_env_builds_a_rank_id(kw):
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env("driftrec/ShoppingRank-v0", n_envs=2, seed=0, env_kwargs=kw)
    assert vec.reset().shape == (2, 20 * F)
    obs, reward, _, _ = vec.step(np.zeros((2, 20), np.float32))
    assert obs.shape == (2, 20 * F) and reward.shape == (2,)
    assert vec.render_mode == "rgb_array"  # make_vec_env asks for frames; the wrapper passes them
    assert [f.shape for f in vec.get_images()] == [FRAME_SHAPE, FRAME_SHAPE]
    vec.close()


@pytest.mark.parametrize("env_id", sorted(RANK_ENV_IDS.values()))
def test_sb3_check_env_passes_without_any_warning_on_rank_ids(kw, env_id):
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym.make(env_id, **kw))
    assert [str(w.message) for w in caught] == []


@pytest.mark.parametrize("env_id", sorted(RANK_ENV_IDS.values()) + sorted(ENV_IDS.values()))
def test_sb3_and_gymnasium_check_env_pass_on_every_id(kw, env_id):
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # raw ids: SB3 warns about the (N, d) Box (documented)
        check_env(gym.make(env_id, **kw))
        gym_check_env(gym.make(env_id, **kw).env.env, skip_render_check=True)


def test_ppo_and_a2c_learn_with_the_default_policy_through_make_vec_env(kw):
    from stable_baselines3 import A2C, PPO
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env("driftrec/NewsRank-v0", n_envs=2, seed=0, env_kwargs=kw)
    ppo = PPO("MlpPolicy", vec, n_steps=16, batch_size=32, n_epochs=1, seed=0, device="cpu")
    assert ppo.learn(64).num_timesteps == 64
    a2c = A2C("MlpPolicy", vec, n_steps=8, seed=0, device="cpu")
    assert a2c.learn(32).num_timesteps == 32
    action, _ = ppo.predict(vec.reset(), deterministic=True)
    assert action.shape == (2, 20)


# --- feature values --------------------------------------------------------------------------------


def test_candidate_table_on_a_hand_made_case():
    # Items in 2-d: 0 = (1, 0), 1 = (0, 1), 2 = (-1, 0), 3 = (0.6, 0.8); categories 0, 0, 1, 1.
    table = np.array([[1, 0], [0, 1], [-1, 0], [0.6, 0.8]], dtype=np.float32)
    builder = CandidateTable(table, np.array([0, 0, 1, 1]), 2, max_steps=9, window=2)
    obs = {
        "candidate_ids": np.array([[0, 2, 3]]),
        "candidate_embeddings": table[[0, 2, 3]][None],
        "candidate_popularity": np.array([[0.5, 0.2, 1.0]], np.float32),
        "history_ids": np.array([[1, 0, -1]]),  # most recent first
        "history_responses": np.array([[[1.0, 0.8], [0.5, 0.4], [0, 0]]], np.float32),
        "history_mask": np.array([[1, 1, 0]], np.int8),
        "profile_embedding": np.array([[1.0, 0.0]], np.float32),
        "step": np.array([[3]]),
    }
    stats = ItemStats(4)  # items 0, 2, 3 shown once; 0 rated 5, 3 rated 2
    stats.observe(np.array([[0, 2, 3]]), np.array([0, 3]), np.array([5.0, 2.0]))
    shown = np.array([[[2], [-1]]])  # item 2 was in the last slate
    rows = builder(obs, stats, shown)[0]
    # user = 2·e1 + 0.8·1.5·e0 = (1.2, 2) / |.| = (0.51450, 0.85749)
    # ratings: mean 3.5, shrunk (5 + 2·3.5)/3 = 4, 3.5, (2 + 7)/3 = 3 → (r − 3.5)/4
    # take: rate 2/3; shrunk (1 + 4/3)/3 = 7/9, (4/3)/3 = 4/9, 7/9 → (t − r)/(t + r) = 1/13, −0.2
    # session: ln 4 / ln 10, completion (1 + 0.5)/2, rating (0.8 + 0.4)/2, fill 2/3, consumed 1
    session = [np.log(4) / np.log(10), 0.75, 0.6, 2 / 3, 1.0]
    expected = np.array([
        [0.51450, 1.0, 1.0, 0.5, 1.0, 0.0, 1 / 3, 0.125, 1 / 13, *session],
        [-0.51450, -1.0, 0.0, 0.2, 0.0, 0.5, 0.0, 0.0, -0.2, *session],
        [0.99469, 0.6, 0.8, 1.0, 0.0, 0.0, 0.0, -0.125, 1 / 13, *session],
    ])
    np.testing.assert_allclose(rows, expected, atol=1e-5)


def test_the_log_counts_what_the_env_reported_and_restarts_with_a_seed(kw):
    env = gym.make("driftrec/VideoRank-v0", **kw)
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    consumed = 0
    for _ in range(6):
        _, _, terminated, truncated, info = env.step(scores(rng, 20))
        consumed += int(info["chosen"] >= 0)
        if terminated or truncated:
            break
    stats = env.env.env.tables.stats
    assert stats.shown.sum() == 3 * 6 and stats.consumed.sum() == consumed
    env.reset()  # next user, same world: the log carries over
    assert env.env.env.tables.stats.shown.sum() == 18
    env.reset(seed=0)
    assert env.env.env.tables.stats.shown.sum() == 0


def test_ties_go_to_the_lower_position(kw):
    env = gym.make("driftrec/NewsRank-v0", **kw)
    env.reset(seed=0)
    ids = env.env.env.tables.last_obs["candidate_ids"][0]
    action = np.zeros(20, np.float32)
    action[[12, 7]] = 1.0  # two tied best, then eighteen tied at 0
    env.step(action)
    assert env.env.env.tables.shown[0, 0].tolist() == ids[[7, 12, 0]].tolist()


# --- determinism ---------------------------------------------------------------------------------


def rollout(env: gym.Env, seed: int, steps: int) -> list[np.ndarray]:
    rng = np.random.default_rng(1)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for _ in range(steps):
        obs, reward, terminated, truncated, _ = env.step(scores(rng, 20))
        out += [obs, np.array(reward)]
        if terminated or truncated:
            obs, _ = env.reset()
            out.append(obs)
    return out


def test_a_seed_gives_the_same_rollout_and_a_new_seed_restarts_the_log(kw):
    env = gym.make("driftrec/VideoRank-v0", **kw)
    first = rollout(env, 3, 40)
    again = rollout(env, 3, 40)  # same env, re-seeded after its log filled
    fresh = rollout(gym.make("driftrec/VideoRank-v0", **kw), 3, 40)
    for a, b, c in zip(first, again, fresh, strict=True):
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, c)


def test_the_vector_wrapper_at_one_user_matches_the_single_env(kw):
    # The torch backend on both sides: the single env's default numba path rounds a few float32
    # values differently (1 ulp), and this test is about the wrappers, not the backends.
    single = gym.make("driftrec/VideoRank-v0", backend="torch", **kw)
    vector = gym.make_vec("driftrec/VideoRank-v0", num_envs=1, **kw)
    rng = np.random.default_rng(2)
    obs_s, _ = single.reset(seed=5)
    obs_v, _ = vector.reset(seed=5)
    for _ in range(30):
        np.testing.assert_array_equal(obs_s, obs_v[0])
        action = scores(rng, 20)
        obs_s, r_s, term, trunc, _ = single.step(action)
        obs_v, r_v, _, _, info = vector.step(action[None])
        assert r_s == r_v[0]
        if term or trunc:
            np.testing.assert_array_equal(obs_s, info["final_obs"][0])
            obs_s, _ = single.reset()


def test_the_vector_wrapper_gives_departing_users_final_tables(kw):
    env = gym.make_vec("driftrec/NewsRank-v0", num_envs=4, max_steps=3, **kw)
    env.reset(seed=0)
    _, _, terminated, truncated, info = [env.step(np.zeros((4, 20), np.float32))
                                         for _ in range(3)][-1]
    assert (terminated | truncated).all() and info["_final_obs"].all()
    finals = np.stack(info["final_obs"])
    assert finals.shape == (4, 20 * F) and env.single_observation_space.contains(finals[0])
    assert (env.tables.shown == -1).all()  # new users: no slates remembered


# --- the raw ids point to the Rank ids ----------------------------------------------------------


def test_a_repeated_position_on_a_raw_id_names_the_rank_id(kw):
    env = gym.make("driftrec/Video-v0", **kw)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"duplicate positions \[2, 2\].*driftrec/VideoRank-v0"):
        env.step(np.array([2, 2, 5]))
    obs, *_ = env.step(np.array([2, 1, 5]))  # state unchanged: the episode goes on
    assert obs["step"][0] == 1


def test_sb3_multi_input_policy_on_a_raw_id_fails_naming_the_rank_id(kw):
    from stable_baselines3 import PPO
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env("driftrec/Video-v0", n_envs=2, seed=0, env_kwargs=kw)
    model = PPO("MultiInputPolicy", vec, n_steps=64, batch_size=64, n_epochs=1, seed=0,
                device="cpu")
    with pytest.raises(ValueError, match=r"duplicate positions .* use the score-per-candidate ids "
                                         r"instead \(driftrec/VideoRank-v0"):
        model.learn(128)


# --- bad inputs (the register of tests/envs/test_rank_ids.py) -----------------------------------

N = 20
BAD_STEPS = [
    ("scores of shape (N+1,)", np.zeros(N + 1, np.float32), ValueError,
     r"scores have shape \(21,\); expected \(20,\)"),
    ("scores of shape (N, 1)", np.zeros((N, 1), np.float32), ValueError, r"shape \(20, 1\)"),
    ("scores of shape (1, N) on the single env", np.zeros((1, N), np.float32), ValueError,
     r"shape \(1, 20\); expected \(20,\)"),
    ("a scalar score", np.float32(0.5), ValueError, r"shape \(\); expected \(20,\)"),
    ("a NaN score", np.where(np.arange(N) == 4, np.nan, 0.0), ValueError,
     r"non-finite value nan at index \(4,\)"),
    ("a +inf score", np.where(np.arange(N) == 0, np.inf, 0.0), ValueError,
     r"non-finite value inf at index \(0,\)"),
    ("a -inf score", np.where(np.arange(N) == 19, -np.inf, 0.0), ValueError,
     r"non-finite value -inf at index \(19,\)"),
    ("string scores", np.array(["a"] * N), TypeError, r"numeric array, got dtype <U1"),
    ("boolean scores", np.ones(N, bool), TypeError, r"numeric array, got dtype bool"),
    ("complex scores", np.ones(N, complex), TypeError, r"got dtype complex128"),
    ("None as the action", None, TypeError, r"numeric array, got dtype object"),
    ("a list of lists of unequal length", [[1.0], [1.0, 2.0]], (TypeError, ValueError),
     r"inhomogeneous|numeric array"),
    ("a slate of positions instead of scores", np.array([0, 1, 2]), ValueError,
     r"shape \(3,\); expected \(20,\)"),
]


@pytest.mark.parametrize(("what", "action", "error", "match"), BAD_STEPS,
                         ids=[case[0] for case in BAD_STEPS])
def test_bad_scores_are_refused_before_the_env_changes(kw, what, action, error, match):
    env = gym.make("driftrec/NewsRank-v0", **kw)
    ref = gym.make("driftrec/NewsRank-v0", **kw)
    env.reset(seed=0)
    ref.reset(seed=0)
    with pytest.raises(error, match=match):
        env.step(action)
    good = np.linspace(-1, 1, N, dtype=np.float32)
    a, b = env.step(good), ref.step(good)
    np.testing.assert_array_equal(a[0], b[0])
    assert a[1] == b[1]


def test_a_nan_torch_score_is_refused_like_a_numpy_one(kw):
    import torch

    env = gym.make("driftrec/NewsRank-v0", **kw)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"non-finite value nan at index \(2,\)"):
        env.step(torch.tensor([0.0, 0.0, float("nan")] + [0.0] * 17))


BAD_VECTOR_STEPS = [
    ("vector scores of shape (B, N+1)", np.zeros((2, N + 1)), ValueError,
     r"shape \(2, 21\); expected \(2, 20\)"),
    ("vector scores of shape (N,)", np.zeros(N), ValueError, r"shape \(20,\); expected \(2, 20\)"),
    ("a NaN score of user 1", np.where(np.arange(2 * N).reshape(2, N) == 23, np.nan, 0.0),
     ValueError, r"non-finite value nan at index \(1, 3\)"),
]


@pytest.mark.parametrize(("what", "action", "error", "match"), BAD_VECTOR_STEPS,
                         ids=[case[0] for case in BAD_VECTOR_STEPS])
def test_bad_vector_scores_are_refused_before_the_env_changes(kw, what, action, error, match):
    env = gym.make_vec("driftrec/NewsRank-v0", num_envs=2, **kw)
    env.reset(seed=0)
    stats = env.tables.stats.shown.copy()
    with pytest.raises(error, match=match):
        env.step(action)
    assert (env.tables.stats.shown == stats).all()
    assert env.unwrapped.engine.state.steps.tolist() == [0, 0]


BAD_CALLS = [
    ("step before reset", lambda env: env.step(np.zeros(N, np.float32)), ValueError,
     r"step\(\) called before reset\(\)"),
    ("a negative seed", lambda env: env.reset(seed=-1), ValueError,
     r"non-negative int \(of any size\), got -1"),
    ("a float seed", lambda env: env.reset(seed=1.5), TypeError, r"got 1.5 of type float"),
    ("a list of seeds", lambda env: env.reset(seed=[0, 1]), ValueError, r"no per-env seeds"),
    ("reset options", lambda env: env.reset(options={"user": 3}), ValueError,
     r"take no reset options"),
]


@pytest.mark.parametrize(("what", "call", "error", "match"), BAD_CALLS,
                         ids=[case[0] for case in BAD_CALLS])
def test_bad_calls_name_the_value(kw, what, call, error, match):
    env = gym.make("driftrec/NewsRank-v0", disable_env_checker=True, **kw).env
    with pytest.raises(error, match=match):
        call(env)


def test_a_step_after_the_episode_ended_says_reset(kw):
    env = gym.make("driftrec/NewsRank-v0", max_steps=1, **kw)
    env.reset(seed=0)
    env.step(np.zeros(N, np.float32))
    with pytest.raises(ValueError, match=r"after the episode ended .* call reset\(\)"):
        env.step(np.zeros(N, np.float32))


BAD_MAKES = [
    ("an unknown keyword", {"slate_sise": 3}, ValueError, r"slate_sise"),
    ("K > N", {"slate_size": 30}, ValueError, r"slate_size"),
    ("an unknown render mode", {"render_mode": "rgb"}, ValueError, r"render_mode.*'rgb'"),
]


@pytest.mark.filterwarnings("ignore:.*not in the possible render_modes")
@pytest.mark.parametrize(("what", "extra", "error", "match"), BAD_MAKES,
                         ids=[case[0] for case in BAD_MAKES])
def test_bad_make_arguments_name_the_value(kw, what, extra, error, match):
    with pytest.raises(error, match=match):
        gym.make("driftrec/VideoRank-v0", **{**kw, **extra})


def test_a_bad_num_envs_names_the_value(kw):
    with pytest.raises(ValueError, match=r"num_envs must be a positive int .* got 0"):
        gym.make_vec("driftrec/VideoRank-v0", num_envs=0, **kw)


def test_feedback_without_chosen_and_rating_is_an_error_naming_the_keys():
    from driftrec.envs.candidate_features import log_feedback

    obs = {"candidate_ids": np.array([[4, 5, 6]])}
    with pytest.raises(ValueError, match=r"info\['chosen'\] and info\['rating'\]; got info keys "
                                         r"\['reward'\]"):
        log_feedback(ItemStats(8), obs, np.array([[0, 1]]), {"reward": 1.0}, "the Rank wrapper")


# --- observe_candidate_embeddings=False ------------------------------------------------------------


def test_rank_id_without_candidate_embeddings_passes_both_check_envs_and_observes_the_same(kw):
    """The kwarg reaches the raw env through gym.make; the feature table reads the candidates'
    rows from ``item_embeddings`` instead of the observation, so it is the same table."""
    from gymnasium.utils.env_checker import check_env as gym_check_env
    from stable_baselines3.common.env_checker import check_env

    lean = {**kw, "observe_candidate_embeddings": False, "max_steps": 8}
    env = gym.make("driftrec/VideoRank-v0", **lean)
    assert env.unwrapped.observe_candidate_embeddings is False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        check_env(gym.make("driftrec/VideoRank-v0", **lean))
    assert [str(w.message) for w in caught] == []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Gymnasium's advice to check the raw env instead
        gym_check_env(gym.make("driftrec/VideoRank-v0", **lean).env.env, skip_render_check=True)
    full = gym.make("driftrec/VideoRank-v0", **{**kw, "max_steps": 8})
    assert np.array_equal(env.reset(seed=0)[0], full.reset(seed=0)[0])
    rng = np.random.default_rng(0)
    for _ in range(20):  # 8-step sessions: resets included
        action = scores(rng, 20)
        got, want = env.step(action), full.step(action)
        assert np.array_equal(got[0], want[0]) and got[1:4] == want[1:4]
        if got[2] or got[3]:
            assert np.array_equal(env.reset()[0], full.reset()[0])


def test_rank_vector_env_without_candidate_embeddings_observes_the_same_final_tables_too(kw):
    def make(**extra):
        return gym.make_vec("driftrec/VideoRank-v0", num_envs=3, max_steps=8,
                            vectorization_mode="vector_entry_point", **kw, **extra)

    lean, full = make(observe_candidate_embeddings=False), make()
    assert np.array_equal(lean.reset(seed=0)[0], full.reset(seed=0)[0])
    rng, finals = np.random.default_rng(0), 0
    for _ in range(20):
        action = scores(rng, 3, 20)
        (obs, reward, *_, info), (obs_f, reward_f, *_, info_f) = lean.step(action), full.step(action)
        assert np.array_equal(obs, obs_f) and np.array_equal(reward, reward_f)
        assert np.array_equal(info.get("_final_obs"), info_f.get("_final_obs"))
        for i in np.flatnonzero(info.get("_final_obs", [])):
            assert np.array_equal(info["final_obs"][i], info_f["final_obs"][i])
            finals += 1
    assert finals >= 3  # every slot ended a session at least once


LEAN_BAD_FLAGS = [1, 0, "False", None, [False], np.array([True]), 1.0]


@pytest.mark.parametrize("vector", [False, True], ids=["single", "vector"])
@pytest.mark.parametrize("value", LEAN_BAD_FLAGS, ids=[repr(v) for v in LEAN_BAD_FLAGS])
def test_rank_ids_reject_a_non_bool_observe_candidate_embeddings(kw, value, vector):
    make = (lambda **k: gym.make_vec("driftrec/VideoRank-v0", num_envs=2,
                                     vectorization_mode="vector_entry_point", **k)
            ) if vector else (lambda **k: gym.make("driftrec/VideoRank-v0", **k))  # fmt: skip
    with pytest.raises(TypeError, match=r"observe_candidate_embeddings must be True or False, "
                       rf"got .* of type {type(value).__name__}"):  # fmt: skip
        make(observe_candidate_embeddings=value, **kw)


LEAN_BAD_SCORES = [
    (np.zeros(19, np.float32), ValueError, r"scores have shape \(19,\); expected \(20,\)"),
    (np.zeros((2, 20), np.float32), ValueError, r"scores have shape \(2, 20\); expected \(20,\)"),
    (np.r_[np.nan, np.zeros(19)].astype(np.float32), ValueError,
     r"scores contain a non-finite value nan at index \(0,\); expected finite scores"),
    (np.r_[np.zeros(19), -np.inf].astype(np.float32), ValueError,
     r"non-finite value -inf at index \(19,\)"),
    (np.array(["a"] * 20), TypeError, r"scores must be a numeric array, got dtype <U1"),
    (None, TypeError, r"scores must be a numeric array, got dtype object"),
    ([None] * 20, TypeError, r"scores must be a numeric array, got dtype object"),
    (np.zeros(20, np.complex64), TypeError, r"got dtype complex64"),
    (np.float32(1.0), ValueError, r"scores have shape \(\); expected \(20,\)"),
    (np.zeros(0, np.float32), ValueError, r"scores have shape \(0,\); expected \(20,\)"),
]  # fmt: skip


@pytest.mark.parametrize("bad, error, message", LEAN_BAD_SCORES, ids=range(len(LEAN_BAD_SCORES)))
def test_rank_id_without_candidate_embeddings_rejects_bad_scores_and_changes_nothing(
    kw, bad, error, message
):
    lean = {**kw, "observe_candidate_embeddings": False}
    env, clean = gym.make("driftrec/VideoRank-v0", **lean), gym.make("driftrec/VideoRank-v0", **lean)
    env.reset(seed=0), clean.reset(seed=0)
    with pytest.raises(error, match=message):
        env.step(bad)
    action = scores(np.random.default_rng(1), 20)
    got, want = env.step(action), clean.step(action)
    assert np.array_equal(got[0], want[0]) and got[1:4] == want[1:4]
