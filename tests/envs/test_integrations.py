"""The textbook calls of Gymnasium, Stable-Baselines3 and TorchRL on the registered ids: every
example of docs/integrations.md runs, and the behaviours they rely on hold (frames through SB3's
make_vec_env, TorchRL's autoreset handling, keyword probing); bad inputs of those paths."""

import multiprocessing
import re
import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from driftrec.envs import ENV_IDS, FlatObservation, ScoreAction
from driftrec.envs.render import FRAME_SHAPE
from driftrec.envs.scenarios import UnknownOverrideError
from gymnasium.vector import AutoresetMode

DOC = Path(__file__).resolve().parents[2] / "docs" / "integrations.md"
SMALL = {"encoder": "hashing", "num_candidates": 20, "slate_size": 3}
#: One slate position: every sampled MultiDiscrete action is valid (no duplicates possible).
ONE = {"encoder": "hashing", "num_candidates": 20, "slate_size": 1}


def doc_examples() -> dict[str, str]:
    """The ``python`` blocks of docs/integrations.md, by their ``# example: name`` first line."""
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.DOTALL)
    named = {}
    for block in blocks:
        first = block.splitlines()[0]
        assert first.startswith("# example: "), f"unnamed example in {DOC.name}: {first!r}"
        named[first.removeprefix("# example: ")] = block
    return named


def run_example(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    namespace = {"__name__": "__main__"}
    exec(compile(doc_examples()[name], f"{DOC.name}:{name}", "exec"), namespace)  # noqa: S102
    return namespace


@pytest.fixture(scope="module")
def torchrl():
    """TorchRL, or skip; importing it sets the ``spawn`` start method for the whole process, so
    the previous setting is restored after this module's tests (other tests fork)."""
    before = multiprocessing.get_start_method(allow_none=True)
    module = pytest.importorskip("torchrl", reason="pip install -e '.[torchrl]'")
    yield module
    multiprocessing.set_start_method(before, force=True)


def test_doc_names_one_example_per_library():
    assert sorted(doc_examples()) == [
        "gymnasium-vector", "record-video", "rllib-module-id", "rllib-register-env",
        "sb3-make-vec-env", "sb3-ppo", "torchrl-gymenv", "torchrl-vector"]  # fmt: skip
    # The RLlib examples run in tests/benchmarks/test_rllib.py (one Ray session for them).


# --- Gymnasium ---------------------------------------------------------------------------------


def test_doc_gymnasium_vector_loop_counts_the_users_who_left(tmp_path, monkeypatch):
    ns = run_example("gymnasium-vector", tmp_path, monkeypatch)
    assert ns["finished"] > 0
    assert ns["env"].num_envs == 8


def test_native_vector_env_carries_autoreset_mode_as_attribute_and_metadata(catalog):
    env = gym.make_vec("driftrec/News-v0", num_envs=2, catalog=catalog, **SMALL)
    assert env.autoreset_mode == env.metadata["autoreset_mode"] == AutoresetMode.SAME_STEP
    wrapped = ScoreAction(FlatObservation(env))
    assert wrapped.autoreset_mode == AutoresetMode.SAME_STEP


# --- Stable-Baselines3 --------------------------------------------------------------------------


@pytest.mark.parametrize("env_id", sorted(ENV_IDS.values()))
def test_sb3_make_vec_env_builds_every_id_with_rgb_array_frames(catalog, env_id):
    from stable_baselines3.common.env_util import make_vec_env

    vec = make_vec_env(env_id, n_envs=2, seed=0, env_kwargs={"catalog": catalog, **SMALL})
    vec.reset()
    assert vec.render_mode == "rgb_array"
    assert [f.shape for f in vec.get_images()] == [FRAME_SHAPE, FRAME_SHAPE]
    vec.close()


def test_doc_sb3_make_vec_env_gives_frames(tmp_path, monkeypatch):
    ns = run_example("sb3-make-vec-env", tmp_path, monkeypatch)
    assert [f.shape for f in ns["frames"]] == [FRAME_SHAPE, FRAME_SHAPE]


def test_doc_sb3_ppo_trains_on_make_vec_env_with_the_wrappers(tmp_path, monkeypatch):
    ns = run_example("sb3-ppo", tmp_path, monkeypatch)
    assert ns["model"].num_timesteps == 64


# --- TorchRL ------------------------------------------------------------------------------------


def test_doc_torchrl_vector_passes_check_env_specs(torchrl, tmp_path, monkeypatch):
    ns = run_example("torchrl-vector", tmp_path, monkeypatch)
    assert tuple(ns["rollout"].batch_size) == (4, 16)


def test_torchrl_gym_wrapper_on_the_raw_native_vector_env_passes_check_env_specs(torchrl):
    from torchrl.envs import GymWrapper
    from torchrl.envs.utils import check_env_specs

    env = GymWrapper(gym.make_vec("driftrec/News-v0", num_envs=4, **ONE))
    check_env_specs(env)
    assert tuple(env.rollout(5, break_when_any_done=False).batch_size) == (4, 5)


def test_torchrl_next_observation_of_a_departing_user_is_its_final_one(torchrl):
    """max_steps=2, no churn: every user is truncated at its second step. The ("next", obs) of
    that step must be the departing user's last observation (step 2 → feature 2/2 = 1.0), and
    the following root observation the new user's first (step 0 → 0.0)."""
    from torchrl.envs import GymWrapper

    env = GymWrapper(ScoreAction(FlatObservation(gym.make_vec(
        "driftrec/News-v0", num_envs=3, max_steps=2, budget_enabled=False,
        hazard_enabled=False, **SMALL))))  # fmt: skip
    td = env.rollout(4, break_when_any_done=False)
    step_next = td["next", "observation"][..., -1]  # step / max_steps
    step_root = td["observation"][..., -1]
    assert td["next", "truncated"].squeeze(-1)[0].tolist() == [False, True, False, True]
    assert step_next[0].tolist() == [0.5, 1.0, 0.5, 1.0]
    assert step_root[0].tolist() == [0.0, 0.5, 0.0, 0.5]


def test_torchrl_gym_env_by_id_drops_frameskip_and_steps(torchrl):
    import torch
    from torchrl.envs import GymEnv

    env = GymEnv("driftrec/News-v0", categorical_action_encoding=True, **SMALL)
    assert env.wrapper_frame_skip == 1  # TorchRL took frameskip back when the env refused it
    slate = torch.tensor([0, 1, 2])  # positions (TorchRL's default would be one-hot rows)
    rollout = env.rollout(4, policy=lambda td: td.set("action", slate))
    assert tuple(rollout.batch_size) == (4,)
    assert rollout["action"].tolist() == [[0, 1, 2]] * 4


@pytest.mark.slow
def test_doc_torchrl_gym_env_with_num_envs_runs_spawned_workers(torchrl, tmp_path, monkeypatch):
    ns = run_example("torchrl-gymenv", tmp_path, monkeypatch)
    assert ns["env"].batch_size == (2,)


# --- Frames and video ---------------------------------------------------------------------------


def test_doc_record_video_writes_the_first_episode(tmp_path, monkeypatch):
    pytest.importorskip("moviepy", reason="RecordVideo needs moviepy (pip install moviepy)")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # moviepy's own imports
        run_example("record-video", tmp_path, monkeypatch)
    assert sorted(p.name for p in (tmp_path / "videos").iterdir()) == ["rl-video-episode-0.mp4"]


# --- Bad inputs on these paths (register: docs/reliability.md) ---------------------------------

BAD_KWARGS = [
    ({"frameskip": 4}, r"unknown override 'frameskip' \(unexpected keyword argument 'frameskip'\)"),
    ({"render_fps": 30}, r"unknown override 'render_fps'"),
    ({"from_pixels": True}, r"unknown override 'from_pixels'"),
    ({"full_action_space": True}, r"unknown override 'full_action_space'"),
    ({"max_episode_steps_": 5}, r"unknown override 'max_episode_steps_'"),
]


@pytest.mark.parametrize(("kwargs", "match"), BAD_KWARGS)
def test_unknown_keyword_is_both_a_type_error_and_a_value_error(catalog, kwargs, match):
    for error in (TypeError, ValueError, UnknownOverrideError):
        with pytest.raises(error, match=match):
            gym.make("driftrec/News-v0", catalog=catalog, **kwargs, **SMALL)


def test_sb3_make_vec_env_with_a_bad_render_mode_names_it(catalog):
    from stable_baselines3.common.env_util import make_vec_env

    with pytest.raises(ValueError, match=r"render_mode must be None or one of 'ansi', "
                                         r"'rgb_array', got 'rgb'"):
        make_vec_env("driftrec/News-v0", n_envs=2,
                     env_kwargs={"catalog": catalog, "render_mode": "rgb", **SMALL})


def test_raw_id_rejects_a_sampled_slate_with_a_duplicate_position(catalog):
    env = gym.make_vec("driftrec/News-v0", num_envs=2, catalog=catalog, **SMALL)
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"slate has duplicate positions \[4, 4\] at user 1; "
                                         r"expected K=3 distinct positions in \[0, 20\)"):
        env.step(np.array([[0, 1, 2], [4, 4, 5]]))


def test_one_hot_actions_to_the_raw_env_name_the_integer_dtype_expected(catalog):
    env = gym.make_vec("driftrec/News-v0", num_envs=2, catalog=catalog, **SMALL)
    env.reset(seed=0)
    one_hot = np.eye(20, dtype=np.float32)[[[0, 1, 2], [3, 4, 5]]]  # TorchRL's default encoding
    with pytest.raises(TypeError, match=r"slate must have an integer dtype \(positions into the "
                                        r"20 candidates\), got dtype float32"):
        env.step(one_hot)


def test_sb3_make_vec_env_with_a_typo_in_env_kwargs_names_it(catalog):
    from stable_baselines3.common.env_util import make_vec_env

    with pytest.raises(ValueError, match=r"unknown override 'slatesize' \(unexpected keyword "
                                         r"argument 'slatesize'\); expected one of: .*slate_size"):
        make_vec_env("driftrec/News-v0", n_envs=2, env_kwargs={"catalog": catalog, "slatesize": 3})


def test_score_action_rejects_scores_of_the_wrong_shape(catalog):
    env = ScoreAction(gym.make_vec("driftrec/News-v0", num_envs=2, catalog=catalog, **SMALL))
    env.reset(seed=0)
    with pytest.raises(ValueError, match=r"scores have shape \(2, 19\); expected \(2, 20\)"):
        env.step(np.zeros((2, 19), dtype=np.float32))


def test_score_action_rejects_non_finite_scores_from_a_library(catalog):
    env = ScoreAction(gym.make_vec("driftrec/News-v0", num_envs=2, catalog=catalog, **SMALL))
    env.reset(seed=0)
    scores = np.zeros((2, 20), dtype=np.float32)
    scores[0, 3] = np.inf
    with pytest.raises(ValueError, match=r"non-finite value inf at index \(0, 3\)"):
        env.step(scores)
