import numpy as np
import pytest
from driftrec.envs import DriftRecEnv, FlatObservation, ScoreAction
from driftrec.envs.spaces import SlateSpace

SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}


def test_score_action_takes_top_k_in_score_order(catalog):
    env = ScoreAction(DriftRecEnv(catalog=catalog, **SMALL))
    scores = np.zeros(20, dtype=np.float32)
    scores[[7, 3, 12]] = [0.9, 0.5, 0.7]
    assert env.action(scores).tolist() == [7, 12, 3]


@pytest.mark.parametrize(
    ("scores", "message"),
    [
        (np.full(20, np.inf, dtype=np.float32), r"non-finite value inf at index \(0,\)"),
        (np.array([np.nan] * 20), r"non-finite value nan"),
        (np.zeros(19), r"scores have shape \(19,\); expected \(20,\)"),
    ],
)
def test_score_action_rejects_bad_scores_before_touching_the_env(catalog, scores, message):
    env = ScoreAction(DriftRecEnv(catalog=catalog, **SMALL))
    env.reset(seed=0)
    steps = int(env.unwrapped.engine.state.steps[0])
    with pytest.raises(ValueError, match=message):
        env.step(scores)
    assert int(env.unwrapped.engine.state.steps[0]) == steps


def test_flat_observation_layout(catalog):
    env = FlatObservation(DriftRecEnv(catalog=catalog, **SMALL))
    obs, _ = env.reset(seed=0)
    raw = env.unwrapped.engine.observation()
    n, d, c = 20, 64, 6
    assert np.array_equal(obs[: n * d], raw["candidate_embeddings"][0].reshape(-1))
    onehot = obs[n * d : n * d + n * c].reshape(n, c)
    assert np.array_equal(onehot.argmax(1), raw["candidate_categories"][0])
    assert env.observation_space.contains(obs)


def test_slate_space_samples_distinct_positions_and_rejects_duplicates():
    space = SlateSpace(np.full(4, 5), seed=0)
    for _ in range(50):
        s = space.sample()
        assert len(set(s.tolist())) == 4 and space.contains(s)
    assert not space.contains(np.array([0, 0, 1, 2]))
