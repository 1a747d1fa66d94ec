"""Per-candidate feature rows and the per-user session memory (agents/itemwise.py)."""

from __future__ import annotations

import numpy as np
import pytest
from driftrec.agents.itemwise import (
    ITEM_COLUMNS,
    SESSION_COLUMNS,
    CandidateFeatures,
    SessionMemory,
)

P = 4  # projected embedding dims in these tests


def _col(name: str) -> int:
    return P + (ITEM_COLUMNS + SESSION_COLUMNS).index(name)


def test_rows_have_one_feature_vector_per_candidate(spec, make_obs):
    rows = CandidateFeatures(spec, proj_dim=P)(make_obs(batch=3), SessionMemory(5))
    assert rows.shape == (3, spec.num_candidates, P + 9 + 6) and rows.dtype == np.float32
    assert np.isfinite(rows).all()


def test_profile_similarity_is_the_cosine_to_the_profile(spec, make_obs):
    obs = make_obs(batch=2)
    rows = CandidateFeatures(spec, proj_dim=P)(obs, SessionMemory(5))
    cand = spec.item_embeddings[obs["candidate_ids"]]
    profile = obs["profile_embedding"] / np.linalg.norm(obs["profile_embedding"], axis=1,
                                                        keepdims=True)
    expected = np.einsum("bnd,bd->bn", cand, profile)
    np.testing.assert_allclose(rows[..., _col("sim_profile")], expected, atol=1e-6)


def test_category_share_is_the_decayed_share_of_history_in_the_category(spec, make_obs):
    obs = make_obs(batch=1, history=[3])
    cats = spec.category_ids[obs["history_ids"][0, :3]]
    # Ages 0, 1, 2 weigh 1, 0.8, 0.64; the share of category c is the weight on c over 2.44.
    weights = np.array([1.0, 0.8, 0.64])
    features = CandidateFeatures(spec, proj_dim=P)
    share = features.category_share(obs)[0]
    for n, c in enumerate(spec.category_ids[obs["candidate_ids"][0]]):
        assert share[n] == pytest.approx(weights[cats == c].sum() / 2.44, abs=1e-6)


def test_users_without_history_have_zero_category_share(spec, make_obs):
    obs = make_obs(batch=2, history=[0, 0])
    assert not CandidateFeatures(spec, proj_dim=P).category_share(obs).any()


def test_consumed_recent_counts_the_candidate_in_the_history(spec, make_obs):
    obs = make_obs(batch=1, history=[2])
    obs["history_ids"][0, :2] = obs["candidate_ids"][0, [4, 4]]  # consumed twice
    rows = CandidateFeatures(spec, proj_dim=P)(obs, SessionMemory(5))
    expected = np.zeros(spec.num_candidates, dtype=np.float32)
    expected[4] = 2 / spec.history_length
    np.testing.assert_array_equal(rows[0, :, _col("consumed_recent")], expected)


def test_item_statistics_start_neutral_and_follow_logged_feedback(spec, make_obs):
    features = CandidateFeatures(spec, proj_dim=P)
    obs = make_obs(batch=1)
    cols = [_col("item_rating"), _col("item_take")]
    assert not features(obs, SessionMemory(5))[..., cols].any()  # no feedback yet: 0, 0
    # Two steps: the slate (0, 1, 2) shown twice; position 0 consumed once, rated 4, then none.
    for chosen, rating in ((0, 4.0), (-1, 0.0)):
        features.observe(obs, np.array([[0, 1, 2]]),
                         {"chosen": np.array([chosen]), "rating": np.array([rating])})
    assert features.stats.shown.sum() == 6 and features.stats.consumed.sum() == 1
    rating, take = features(obs, SessionMemory(5))[0, :4][:, cols].T
    # Rating: (4 + 2·4) / (1 + 2) - 4 = 0 (the only rating is the global mean). Take rate of
    # position 0: global rate 1/6; (1 + 2/6) / (2 + 2) relative to 1/6, minus 1 = 1; positions 1
    # and 2: (0 + 2/6) / 4 · 6 - 1 = -0.5; position 3 never shown: (2/6) / 2 · 6 - 1 = 0.
    np.testing.assert_allclose(rating, [0.0, 0.0, 0.0, 0.0], atol=1e-6)
    np.testing.assert_allclose(take, [1.0, -0.5, -0.5, 0.0], atol=1e-5)


def test_observe_needs_the_consumed_position_and_rating(spec, make_obs):
    features = CandidateFeatures(spec, proj_dim=P)
    with pytest.raises(ValueError, match=r"info\['chosen'\] and info\['rating'\]; got info keys "
                                         r"\['clicks'\]"):
        features.observe(make_obs(batch=1), np.array([[0, 1, 2]]), {"clicks": np.zeros((1, 3))})


def _advance(obs: dict, step: int, history_head: int | None = None) -> dict:
    out = {k: v.copy() for k, v in obs.items()}
    out["step"][:] = step
    if history_head is not None:  # a consumption pushes an item to the front of the history
        out["history_ids"] = np.concatenate([[[history_head]], out["history_ids"][:, :-1]], axis=1)
    return out


def test_memory_counts_shown_slates_and_steps_without_a_consumption(make_obs):
    memory = SessionMemory(window=3)
    obs0 = make_obs(batch=1, history=[0])
    ids = np.array([[7, 8, 9]])
    memory.record(obs0, ids)  # step 0: slate shown
    obs1 = _advance(obs0, 1)  # history unchanged: no consumption
    shown, no_click = memory.view(obs1, slate_size=3)
    assert shown[0, 0].tolist() == [7, 8, 9] and (shown[0, 1:] == -1).all()
    assert no_click.tolist() == [1.0]
    memory.record(obs1, np.array([[7, 1, 2]]))
    obs2 = _advance(obs1, 2, history_head=7)  # consumed item 7
    shown, no_click = memory.view(obs2, slate_size=3)
    assert no_click.tolist() == [0.5]  # one of the two remembered steps had no consumption
    assert (shown[0] == 7).sum() == 2


def test_memory_forgets_a_slot_whose_user_was_replaced(make_obs):
    memory = SessionMemory(window=3)
    obs = make_obs(batch=2, history=[0, 0])
    memory.record(obs, np.array([[1, 2, 3], [4, 5, 6]]))
    later = _advance(obs, 1)
    later["step"][1] = 0  # slot 1 holds a new user (autoreset)
    shown, no_click = memory.view(later, slate_size=3)
    assert shown[0, 0].tolist() == [1, 2, 3] and (shown[1] == -1).all()
    assert no_click.tolist() == [1.0, 0.0]


def test_memory_view_of_some_slots_reads_those_slots(make_obs):
    memory = SessionMemory(window=2)
    obs = make_obs(batch=3, history=[0, 0, 0])
    memory.record(obs, np.array([[1, 2, 3], [4, 5, 6], [7, 8, 9]]))
    sub = {k: v[[2]] for k, v in _advance(obs, 1).items()}
    shown, _ = memory.view(sub, slate_size=3, rows=np.array([2]))
    assert shown[0, 0].tolist() == [7, 8, 9]


def test_memory_of_another_batch_size_reads_as_empty(make_obs):
    memory = SessionMemory(window=2)
    memory.record(make_obs(batch=3, history=[0, 0, 0]), np.zeros((3, 3), dtype=np.int64))
    shown, no_click = memory.view(_advance(make_obs(batch=2, history=[0, 0]), 1), slate_size=3)
    assert (shown == -1).all() and not no_click.any()


def test_memory_window_must_be_positive():
    with pytest.raises(ValueError, match="memory window must be >= 1, got 0"):
        SessionMemory(0)


def test_memory_state_with_the_wrong_window_is_rejected():
    memory = SessionMemory(window=2)
    with pytest.raises(ValueError, match=r"session memory 'shown' has shape \(4, 3, 5\); "
                                         r"expected \(B, R=2, K\)"):
        memory.load({"shown": np.zeros((4, 3, 5)), "clicked": np.zeros((4, 3)),
                     "last_history": np.zeros((4, 10))})
