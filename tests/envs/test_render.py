"""rgb_array frames: shape and dtype on every id, what a frame shows, reproducibility, the vector
env's tuple of frames, Gymnasium's render checks and video recording; bad render inputs."""

import warnings

import gymnasium as gym
import numpy as np
import pytest
from driftrec.envs import ENV_IDS, DriftRecEnv, DriftRecVectorEnv
from driftrec.envs.render import FRAME_SHAPE, Projection
from gymnasium.utils.env_checker import check_env

SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}
SLATE = np.array([0, 1, 2])


def _stepped(env, seed: int = 0, steps: int = 1):
    env.reset(seed=seed)
    slate = np.tile(SLATE, (env.num_envs, 1)) if hasattr(env, "num_envs") else SLATE
    for _ in range(steps):
        env.step(slate)
    return env


@pytest.mark.parametrize("env_id", sorted(ENV_IDS.values()))
def test_every_id_renders_an_rgb_uint8_frame_before_and_after_a_step(catalog, env_id):
    env = gym.make(env_id, catalog=catalog, render_mode="rgb_array", **SMALL)
    env.reset(seed=0)
    before = env.render()
    env.step(SLATE)
    after = env.render()
    assert (before.shape, before.dtype, after.shape, after.dtype) == (
        FRAME_SHAPE, np.uint8, (384, 640, 3), np.uint8)  # fmt: skip
    assert np.any(before != after)  # the slate, response and budget appeared
    env.close()


def test_frame_shows_the_slate_titles_the_response_and_the_budget(catalog):
    env = _stepped(DriftRecEnv("video", catalog=catalog, render_mode="rgb_array", **SMALL))
    env.render()
    frames = env._frames  # the artists hold the text drawn into the frame
    last = env._last
    titles = [catalog.titles[i] for i in last.slate_ids]
    rows = [t.get_text() for t in frames._rows]
    assert [row.split(". ", 1)[1].startswith(title[:20]) for row, title in zip(rows, titles)] == [
        True, True, True]  # fmt: skip
    chosen = int(last.info["chosen"])
    expected = "no click" if chosen < 0 else f"clicked #{chosen + 1}: completion"
    assert frames._response.get_text().startswith(expected)
    budget = float(env.engine.state.budget[0])
    assert frames._budget.get_text() == f"{budget:.1f} / 120"
    assert frames._header.get_text().startswith("video · user 0 · step 0 · reward ")


def test_same_seed_and_slates_give_identical_frames(catalog):
    a = _stepped(DriftRecEnv(catalog=catalog, render_mode="rgb_array", **SMALL), steps=3)
    b = _stepped(DriftRecEnv(catalog=catalog, render_mode="rgb_array", **SMALL), steps=3)
    np.testing.assert_array_equal(a.render(), b.render())
    np.testing.assert_array_equal(a.render(), a.render())  # rendering changes nothing


def test_interest_path_grows_per_step_and_restarts_on_reset(catalog):
    env = DriftRecEnv(catalog=catalog, render_mode="rgb_array", budget_enabled=False,
                      hazard_enabled=False, **SMALL)
    env.reset(seed=0)
    env.render()
    for _ in range(3):
        env.step(SLATE)
        env.render()
        env.render()  # a second render of the same step adds no point
    assert len(env._frames._trail.get_xdata()) == 4  # the start and three steps
    env.reset(seed=1)
    env.render()
    assert len(env._frames._trail.get_xdata()) == 1


def test_close_releases_the_figure_and_a_later_render_draws_a_new_one(catalog):
    env = _stepped(DriftRecEnv(catalog=catalog, render_mode="rgb_array", **SMALL))
    first = env.render()
    env.close()
    assert env._frames._fig is None
    np.testing.assert_array_equal(env.render(), first)


def test_vector_env_renders_a_tuple_of_one_frame_per_user(catalog):
    env = _stepped(DriftRecVectorEnv(3, catalog=catalog, render_mode="rgb_array", **SMALL))
    frames = env.render()
    assert isinstance(frames, tuple)
    assert [f.shape for f in frames] == [FRAME_SHAPE] * 3
    assert len(env.render(max_users=1)) == 1
    single = _stepped(DriftRecEnv(catalog=catalog, render_mode="rgb_array", **SMALL))
    assert single.render().shape == frames[0].shape
    env.close()
    assert env._frames._fig is None


def test_vector_env_frame_marks_a_user_who_left(catalog):
    env = DriftRecVectorEnv(2, catalog=catalog, render_mode="rgb_array", max_steps=2, **SMALL)
    _stepped(env, steps=2)  # both users truncated at max_steps, replaced in the same step
    env.render()
    header = env._frames._header.get_text()  # the departing user's second step (index 1)
    assert (header[:27], header[-11:]) == ("video · user 1 · step 1 · r", " → new user")
    assert env._frames._trail.get_xdata().size == 1  # the new user's path starts afresh


def test_gymnasium_check_env_passes_with_rgb_array(catalog):
    env = gym.make("driftrec/News-v0", catalog=catalog, render_mode="rgb_array", **SMALL)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_env(env.unwrapped)


def test_render_collection_gathers_the_frames_record_video_would_write(catalog):
    env = gym.wrappers.RenderCollection(
        gym.make("driftrec/News-v0", catalog=catalog, render_mode="rgb_array", **SMALL))
    env.reset(seed=0)
    for _ in range(3):
        env.step(SLATE)
    frames = env.render()
    assert [f.shape for f in frames] == [FRAME_SHAPE] * 4  # reset + 3 steps


def test_record_video_writes_an_mp4(catalog, tmp_path):
    pytest.importorskip("moviepy", reason="RecordVideo needs moviepy (pip install moviepy)")
    env = gym.make("driftrec/News-v0", catalog=catalog, render_mode="rgb_array", **SMALL)
    env = gym.wrappers.RecordVideo(env, str(tmp_path / "videos"), episode_trigger=lambda e: True)
    env.reset(seed=0)
    for _ in range(4):
        env.step(SLATE)
    env.close()
    videos = sorted(p.name for p in (tmp_path / "videos").glob("*.mp4"))
    assert videos == ["rl-video-episode-0.mp4"]
    assert (tmp_path / "videos" / videos[0]).stat().st_size > 1000


def test_projection_fit_puts_two_categories_on_the_first_axis():
    # Centroids (1, 0, 0) and (0, 1, 0): mean (0.5, 0.5, 0); the top principal direction is
    # ±(1, -1, 0)/√2, so the 2-D points are ±(√2/2, 0).
    proj = Projection.fit(np.array([[1.0, 0, 0], [0, 1.0, 0]]), ["a", "b"])
    np.testing.assert_allclose(np.abs(proj.centroids_2d), [[2**-0.5, 0], [2**-0.5, 0]],
                               atol=1e-12)
    assert proj.to_dict()["categories"] == ["a", "b"]


# Bad inputs: each raises before anything is built or drawn (register: docs/reliability.md).
BAD_RENDER = [
    ({"render_mode": "human"}, ValueError,
     r"render_mode must be None or one of 'ansi', 'rgb_array', got 'human'"),
    ({"render_mode": "rgb"}, ValueError, r"got 'rgb'"),
    ({"render_mode": "RGB_ARRAY"}, ValueError, r"got 'RGB_ARRAY'"),
    ({"render_mode": ""}, ValueError, r"got ''"),
    ({"render_mode": 1}, ValueError, r"got 1"),
    ({"render_mode": ["rgb_array"]}, ValueError, r"got \['rgb_array'\]"),
    ({"render_mode": "rgb_array_list"}, ValueError, r"got 'rgb_array_list'"),
]


@pytest.mark.parametrize(("kwargs", "error", "match"), BAD_RENDER)
@pytest.mark.parametrize("vector", [False, True])
def test_bad_render_mode_is_rejected_by_both_envs(catalog, kwargs, error, match, vector):
    with pytest.raises(error, match=match):
        if vector:
            DriftRecVectorEnv(2, catalog=catalog, **kwargs, **SMALL)
        else:
            DriftRecEnv(catalog=catalog, **kwargs, **SMALL)


@pytest.mark.parametrize(
    ("max_users", "match"),
    [(0, r"max_users must be a positive int or None, got 0"), (-2, r"got -2"),
     (1.5, r"got 1.5"), (True, r"got True"), ("2", r"got '2'")],
)
@pytest.mark.parametrize("mode", ["ansi", "rgb_array"])
def test_vector_render_rejects_a_bad_max_users(catalog, max_users, match, mode):
    env = _stepped(DriftRecVectorEnv(2, catalog=catalog, render_mode=mode, **SMALL))
    with pytest.raises(ValueError, match=match):
        env.render(max_users=max_users)


def test_render_without_a_render_mode_returns_none(catalog):
    assert _stepped(DriftRecEnv(catalog=catalog, **SMALL)).render() is None
    assert _stepped(DriftRecVectorEnv(2, catalog=catalog, **SMALL)).render() is None
